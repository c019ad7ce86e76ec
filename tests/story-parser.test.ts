import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { runProcess } from "../src/exec/run-process.js";
import { buildGateEnv } from "../src/profiles/odibi/gate-env.js";
import { installGoldenProjects } from "../src/profiles/odibi/golden-projects.js";
import { planGoldenRun } from "../src/profiles/odibi/golden-run-config.js";
import { venvBin } from "../src/pyenv/python-env.js";
import {
  cleanTraceback,
  extractCause,
  type ParsedStory,
  StoryError,
  StoryParser,
} from "../src/stories/index.js";
import { tempDir } from "./helpers.js";

/**
 * Stories produced by real `odibi run`s (the installed odibi 3.15.1) on the `hello` golden project: once as
 * shipped, once with its input path pointing at a file that does not exist.
 */
const parser = new StoryParser();
let okStory: ParsedStory;
let failedStory: ParsedStory;
let okStoryFile: string;
let storyDirOk: string;

async function odibiRun(workDir: string, configText: string, projectDir: string): Promise<string> {
  const plan = planGoldenRun(configText, projectDir);
  const config = path.join(workDir, "odibi.yaml");
  writeFileSync(config, plan.text);
  const venv = inject("venv");
  const r = await runProcess(venvBin(venv, "python"), ["-m", "odibi", "run", config], {
    cwd: workDir,
    // Installed odibi (no sandbox here): drop PYTHONPATH.
    env: { ...buildGateEnv(workDir, venv, { outputDir: path.join(workDir, ".env") }), PYTHONPATH: "" },
    timeoutMs: 120_000,
  });
  expect(r.spawnError).toBeUndefined();
  return path.resolve(workDir, plan.storyDir);
}

beforeAll(async () => {
  const root = tempDir();
  const [hello] = await installGoldenProjects(path.join(root, "golden"), inject("venv"), () => {}, {
    templates: ["hello"],
  });
  const config = readFileSync(hello!.config, "utf8");
  storyDirOk = await odibiRun(tempDir(), config, hello!.dir);
  const [okFile] = parser.findStories(storyDirOk);
  okStoryFile = okFile!;
  okStory = parser.parse(okStoryFile);
  const broken = config.replace("path: customers.csv", "path: no_such_customers.csv");
  expect(broken).not.toBe(config);
  const [failedFile] = parser.findStories(await odibiRun(tempDir(), broken, hello!.dir));
  failedStory = parser.parse(failedFile!);
}, 240_000);

describe("StoryParser on real odibi stories", () => {
  it("reads the pipeline-level facts of a successful run", () => {
    expect(okStory.pipeline).toBe("ingest");
    expect(okStory.layer).toBe("bronze");
    expect(okStory.project).toBe("hello_world");
    expect(okStory.runId).toMatch(/^\d{8}_\d{6}$/);
    expect(okStory.durationMs).toBeGreaterThan(0);
    expect([okStory.totalNodes, okStory.completedNodes, okStory.failedNodes, okStory.skippedNodes]).toEqual([
      1, 1, 0, 0,
    ]);
    expect(okStory.successRate).toBe(100);
    // customers.csv of odibi's template has 5 rows.
    expect(okStory.rowsProcessed).toBe(5);
    expect(parser.getSuccessRate(okStory)).toBe(100);
    expect(parser.getFailures(okStory)).toEqual([]);
  });

  it("reads each node: name, operation, status, duration, rows", () => {
    expect(okStory.nodes).toHaveLength(1);
    const n = okStory.nodes[0]!;
    expect(n.name).toBe("ingest_customers");
    expect(n.status).toBe("success");
    expect(n.operation).toBeTruthy();
    expect(n.durationMs).toBeGreaterThanOrEqual(0);
    expect([n.rowsIn, n.rowsOut]).toEqual([5, 5]);
    expect(n.errorType).toBeUndefined();
    expect(n.executionSteps.length).toBeGreaterThan(0);
  });

  it("reads a failed node with odibi's error, and getFailures names it", () => {
    expect(failedStory.failedNodes).toBe(1);
    expect(failedStory.successRate).toBe(0);
    expect(parser.getSuccessRate(failedStory)).toBe(0);
    const node = failedStory.nodes.find((n) => n.name === "ingest_customers")!;
    expect(node.status).toBe("failed");
    expect(node.errorType).toBeTruthy();
    expect(node.errorMessage).toContain("no_such_customers.csv");
    // odibi 3.15 leaves the node's own traceback fields null and keeps it in the retry history.
    expect(node.traceback).toMatch(/^Traceback \(most recent call last\):/);
    expect(node.traceback).toMatch(/File "[^"]+", line \d+, in /);
    const failures = parser.getFailures(failedStory);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      pipeline: "ingest",
      node: "ingest_customers",
      storyFile: failedStory.file,
    });
    expect(failures[0]!.message).toContain("no_such_customers.csv");
    expect(failures[0]!.errorType).not.toBe("UnknownError");
  });

  it("finds only run stories (not lineage files) under a story folder", () => {
    const all = parser.findStories(storyDirOk);
    expect(all).toEqual([okStoryFile]);
    expect(all.every((f) => !f.includes(`${path.sep}lineage${path.sep}`))).toBe(true);
  });

  it("fails clearly on a missing, truncated or foreign story", () => {
    const dir = tempDir();
    expect(() => parser.parse(path.join(dir, "nope.json"))).toThrow(StoryError);
    expect(() => parser.parse(path.join(dir, "nope.json"))).toThrow(/not found/);

    const text = readFileSync(okStoryFile, "utf8");
    const truncated = path.join(dir, "run_truncated.json");
    writeFileSync(truncated, text.slice(0, Math.floor(text.length / 2)));
    expect(() => parser.parse(truncated)).toThrow(/not valid JSON/);
    // A truncated run story is still found, so a gate reports it instead of ignoring it.
    copyFileSync(okStoryFile, path.join(dir, "run_ok.json"));
    expect(
      parser
        .findStories(dir)
        .map((f) => path.basename(f))
        .sort(),
    ).toEqual(["run_ok.json", "run_truncated.json"]);

    const doc = JSON.parse(text) as Record<string, unknown>;
    delete doc.run_id;
    (doc.nodes as Array<Record<string, unknown>>)[0]!.status = 7;
    expect(() => parser.parseText(JSON.stringify(doc), "x.json")).toThrow(StoryError);
    try {
      parser.parseText(JSON.stringify(doc), "x.json");
    } catch (e) {
      expect((e as Error).message).toMatch(/run_id/);
      expect((e as Error).message).toMatch(/nodes\[0\]\.status|nodes.*status/);
    }
  });
});

describe("story helpers", () => {
  it("extracts the wrapped cause from odibi's NodeExecutionError message", () => {
    const msg =
      "[X] Node execution failed: dim_customer\n  Location: /x/odibi.yaml\n\n  Error: 'DataFrame' object has no attribute 'foo'\n  Type: AttributeError\n\n  Available columns: {}";
    expect(extractCause(msg)).toEqual({
      type: "AttributeError",
      message: "'DataFrame' object has no attribute 'foo'",
    });
    expect(extractCause("[X] failed\n\n  Error: boom\n\n  Suggestions: …")).toEqual({ message: "boom" });
    expect(extractCause("plain message")).toBeUndefined();
  });

  it("caps a long traceback to its end", () => {
    const tb = Array.from({ length: 200 }, (_, i) => `line ${i}`).join("\n");
    const out = cleanTraceback(tb)!;
    expect(out.split("\n")).toHaveLength(81);
    expect(out).toMatch(/^… 120 earlier lines cut/);
    expect(out.endsWith("line 199")).toBe(true);
    expect(cleanTraceback("  \n")).toBeUndefined();
  });
});

describe("Python's JSON constants", () => {
  it("reads NaN and Infinity outside strings as null, leaves them inside strings", async () => {
    const { pythonConstantsAsNull } = await import("../src/stories/story-parser.js");
    const text = '{"a": NaN, "b": [Infinity, -Infinity, 1], "c": "NaN \\" Infinity"}';
    expect(JSON.parse(pythonConstantsAsNull(text))).toEqual({
      a: null,
      b: [null, null, 1],
      c: 'NaN " Infinity',
    });
  });
});
