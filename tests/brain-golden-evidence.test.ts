import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Budget } from "../src/brain/budget.js";
import { nodeYaml, parseGoldenNodeId, tracebackFrames } from "../src/brain/golden-evidence.js";
import { createLlmImprover } from "../src/brain/llm-improver.js";
import { failureTasks, listWork } from "../src/campaign/find-work.js";
import type { Check, GateResult, Task } from "../src/core/types.js";
import type { SandboxInfo } from "../src/environment/environment.js";
import { ImprovementEnvironment } from "../src/environment/environment.js";
import type { GateContext } from "../src/gates/gate.js";
import { createLlmClient } from "../src/llm/client.js";
import { profileOf } from "../src/profiles/index.js";
import {
  goldenGate,
  odibiGateContext,
  prepareOdibiEnvironment,
  runLogExcerpt,
} from "../src/profiles/odibi/index.js";
import { tempDir } from "./helpers.js";
import { testSettings } from "./llm-fixtures.js";
import { type ScriptedLlmServer, startLlmServer } from "./llm-server.js";

/**
 * Issue 12 item 1 for golden failures, on the real odibi 3.15.1: a one-location defect in the fact pattern (odibi's
 * own tests do not exercise FactPattern; only the star-schema golden project does), the real golden gate, then
 * find-work's task and the first prompt the brain sends over real HTTP to the scripted model.
 */

const FACT = path.join("odibi", "patterns", "fact.py");
const GOOD_LINE = "dim_subset = dim_df[[dim_key, sk_col]].copy()";
const BAD_LINE = 'dim_subset = dim_df[[dim_key, sk_col, "sk"]].copy()';
const NODE = "golden:star-schema/build_facts/fact_sales";
const noMemory = { shouldAvoid: () => false };

const failing = (checks: Check[]) => checks.filter((c) => c.status === "fail");

describe("a golden-only defect in odibi's fact pattern", () => {
  let env: ImprovementEnvironment;
  let sandbox: SandboxInfo;
  let ctx: GateContext;
  let baseline: GateResult;

  beforeAll(async () => {
    const sacred = path.join(tempDir(), "odibi-sacred");
    cpSync(inject("odibiSource"), sacred, { recursive: true });
    env = await ImprovementEnvironment.init({
      source: sacred,
      root: path.join(tempDir(), "root"),
      profile: profileOf("odibi"),
    });
    const venv = inject("venv");
    await prepareOdibiEnvironment(env, { venv });
    sandbox = await env.createSandbox(1);
    const fact = path.join(sandbox.path, FACT);
    const source = readFileSync(fact, "utf8");
    expect(source.split(GOOD_LINE)).toHaveLength(2);
    writeFileSync(fact, source.replace(GOOD_LINE, BAD_LINE));
    ctx = odibiGateContext({
      workdir: sandbox.path,
      venv,
      config: env.config,
      goldenDir: env.layout.golden,
      outputDir: path.join(env.layout.stories, "cycle-1"),
      timeoutMs: 180_000,
    });
    // The one golden run of this file.
    const run = await goldenGate.run(ctx, { only: ["golden:star-schema"] });
    baseline = {
      treeHash: "t",
      startedAt: new Date().toISOString(),
      durationMs: run.durationMs,
      runs: [run],
    };
  }, 600_000);

  it("the golden gate reports the project, the pipeline and the node; the run's detail is a clean log", () => {
    const checks = baseline.runs[0]!.checks;
    expect(failing(checks).map((c) => c.id)).toEqual([
      "golden:star-schema",
      "golden:star-schema/build_facts",
      NODE,
    ]);
    const node = checks.find((c) => c.id === NODE)!;
    expect(node.message).toBe(`KeyError: "['sk'] not in index"`);
    // The traceback odibi 3.15 keeps in the node's retry history reaches the check.
    expect(node.detail).toMatch(/Traceback \(most recent call last\)/);
    expect(node.detail).toContain(`fact.py", line`);
    const project = checks.find((c) => c.id === "golden:star-schema")!;
    expect(project.detail).not.toContain("\u001b[");
    expect(project.detail).not.toMatch(/\bINFO {2,}/);
    expect(project.detail).not.toContain("OVERHEAD AUDIT");
    expect(project.detail).toContain("Failed nodes:");
    expect(project.detail).toContain("fact_sales");
  });

  it("find-work makes the failing node the task, not the project's run", () => {
    const task = listWork(baseline, [], noMemory)[0];
    expect(task?.target).toBe(NODE);
    expect(task?.title).toContain(`KeyError: "['sk'] not in index"`);
    expect(failureTasks(baseline).map((t) => t.target)).toEqual([NODE]);
  });

  describe("the first prompt", () => {
    let server: ScriptedLlmServer;
    let prompt: string;

    beforeAll(async () => {
      server = await startLlmServer([
        { type: "tools", calls: [{ name: "finish", args: { summary: "read the prompt only" } }] },
      ]);
      const improver = createLlmImprover({
        client: createLlmClient(testSettings("openai", `${server.origin}/v1`), {
          env: { OPENAI_API_KEY: "sk-golden-evidence-000" },
        }),
        budget: new Budget(),
        limits: { maxAttempts: 1, maxSteps: 2, attemptTimeoutMs: 60_000, maxAttemptTokens: 100_000 },
        trajectoriesDir: path.join(tempDir(), "trajectories"),
      });
      await improver.improve({
        sandbox,
        task: listWork(baseline, [], noMemory)[0] as Task,
        baseline,
        ctx,
        avoid: [],
        cycle: 1,
        signal: new AbortController().signal,
      });
      const first = server.requests[0]!.body.messages as Array<{ role: string; content: unknown }>;
      prompt = String(first.find((m) => m.role === "user")!.content);
    }, 120_000);
    afterAll(async () => server?.close());

    it("names the node and holds odibi's error", () => {
      expect(prompt).toContain(`Target: ${NODE}`);
      expect(prompt).toContain("project star-schema, pipeline build_facts, node fact_sales (runs fact)");
      expect(prompt).toContain(`Error: KeyError: "['sk'] not in index"`);
    });

    it("holds the repository's traceback frames and the defective line of code, numbered", () => {
      expect(prompt).toContain("odibi/patterns/fact.py:");
      expect(prompt).toMatch(/odibi\/patterns\/fact\.py:\d+ in _join_dimension_pandas/);
      expect(prompt).toMatch(new RegExp(`\\d+\\| +${BAD_LINE.replace(/[[\]().*]/g, "\\$&")}`));
      // Frames in installed libraries (pandas) are left out.
      expect(prompt).not.toMatch(/site-packages\/pandas\/[^\n]*:\d+ in /);
    });

    it("holds the node's YAML from the golden project, which the model's tools cannot read", () => {
      expect(prompt).toContain("golden project star-schema, odibi.yaml lines");
      expect(prompt).toContain("- name: fact_sales");
      expect(prompt).toContain("dimension_key: full_date");
      expect(prompt).toContain("surrogate_key: date_sk");
    });

    it("holds the fact pattern's method the error came from", () => {
      expect(prompt).toContain(
        "The pattern `fact` this node runs: FactPattern._join_dimension_pandas in odibi/patterns/fact.py",
      );
      expect(prompt).toMatch(/\d+\| +def _join_dimension_pandas\(/);
    });

    it("has no colour codes and no log banners", () => {
      expect(prompt).not.toContain("\u001b[");
      expect(prompt).not.toContain("OVERHEAD AUDIT");
      expect(prompt).not.toMatch(/\bINFO {2,}/);
    });
  });
});

describe("golden evidence, the pure parts", () => {
  it("node ids: project, pipeline, node; other golden ids are not nodes", () => {
    expect(parseGoldenNodeId("golden:p/pl/n")).toEqual({ project: "p", pipeline: "pl", node: "n" });
    for (const id of ["golden:p", "golden:p/pl", "golden:p#inputs", "tests:a/b/c"])
      expect(parseGoldenNodeId(id)).toBeUndefined();
  });

  it("traceback frames, outermost first", () => {
    const tb =
      'Traceback (most recent call last):\n  File "/s/odibi/node.py", line 305, in execute\n    x()\n  File "/v/pandas/frame.py", line 9, in __getitem__\n    y\nKeyError: "k"';
    expect(tracebackFrames(tb)).toEqual([
      { file: "/s/odibi/node.py", line: 305, func: "execute" },
      { file: "/v/pandas/frame.py", line: 9, func: "__getitem__" },
    ]);
  });

  it("a node's YAML keeps its lines and names what it runs (pattern, transformer, transform functions)", () => {
    const config = [
      "pipelines:",
      "  - pipeline: a",
      "    nodes:",
      "      - name: n1",
      "        transformer: deduplicate",
      "        transform:",
      "          steps:",
      "            - function: fill_nulls",
      "            - sql: select 1",
      "      - name: n2",
      "        pattern:",
      "          type: fact # comment kept",
      "",
    ].join("\n");
    expect(nodeYaml(config, "a", "n1")).toMatchObject({
      firstLine: 4,
      lastLine: 9,
      names: ["deduplicate", "fill_nulls"],
    });
    const n2 = nodeYaml(config, "a", "n2")!;
    expect(n2.names).toEqual(["fact"]);
    expect(n2.text).toBe("      - name: n2\n        pattern:\n          type: fact # comment kept");
    expect(nodeYaml(config, "a", "missing")).toBeUndefined();
  });

  it("a golden run without a failing node stays the task (odibi crashed before any story)", () => {
    const result: GateResult = {
      treeHash: "t",
      startedAt: "",
      durationMs: 0,
      runs: [
        {
          gate: "golden",
          durationMs: 1,
          checks: [
            {
              gate: "golden",
              id: "golden:p",
              status: "fail",
              errorType: "OdibiRunFailed",
              message: "exit 1",
            },
            {
              gate: "golden",
              id: "golden:p/pl",
              status: "fail",
              errorType: "MissingStory",
              message: "no story",
            },
            { gate: "golden", id: "golden:q#inputs", status: "fail", message: "changed" },
            { gate: "golden", id: "golden:q/pl/n", status: "fail", message: "KeyError: x" },
            { gate: "golden", id: "golden:q", status: "fail", message: "exit 1" },
          ],
        },
      ],
    };
    expect(failureTasks(result).map((t) => t.target)).toEqual([
      "golden:p",
      "golden:p/pl",
      "golden:q#inputs",
      "golden:q/pl/n",
    ]);
  });

  it("a run log without colour codes, INFO lines, their wrapped lines and banners", () => {
    const log = [
      "[14:10:31] \u001b[1mINFO\u001b[0m     Loading configuration from: odibi.yaml            ",
      "           INFO     Lineage saved (json_path=data/x.json,      ",
      "                    html_path=data/x.html)                       ",
      "           WARNING  Slow node",
      "=".repeat(40),
      "INTER-PIPELINE OVERHEAD AUDIT",
      "=".repeat(40),
      "Total wall-clock time:  4.55s",
      "",
      "\u001b[31m❌ Pipeline 'build_facts' failed\u001b[0m",
      "Failed nodes:",
      "  • fact_sales: KeyError",
    ].join("\n");
    expect(runLogExcerpt(log)).toBe(
      "           WARNING  Slow node\n❌ Pipeline 'build_facts' failed\nFailed nodes:\n  • fact_sales: KeyError",
    );
  });
});
