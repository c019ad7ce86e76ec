import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { git } from "../src/environment/git.js";
import { cli, jsonl, runWithLlm } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";
import { CALC_FILES } from "./llm-fixtures.js";
import { type ScriptedCall, startLlmServer } from "./llm-server.js";

/**
 * Faults of a candidate are the candidate's, not the campaign's: real campaigns through the CLI against a scripted
 * model over HTTP.
 */

const MODEL = "faults-model";
const FIX: ScriptedCall = {
  name: "replace_in_file",
  args: { path: "calc.py", old_text: "return a - b", new_text: "return a + b" },
};

async function environment(files: Record<string, string>) {
  const base = tempDir();
  const sacred = await makeGitRepo(path.join(base, "calc"), files);
  const root = path.join(base, "root");
  const init = await cli(["init", "--source", sacred, "--root", root, "--profile", "python"]);
  expect(init.code, init.err).toBe(0);
  const cfg = path.join(root, "config.yaml");
  writeFileSync(cfg, readFileSync(cfg, "utf8").replace("gates:\n", "gates:\n  flake_reruns: 0\n"));
  return { base, sacred, root, master: path.join(root, "master") };
}

async function campaignWith(root: string, calls: ScriptedCall[], extra: string[] = []) {
  const server = await startLlmServer([
    { type: "tools", calls },
    { type: "tools", calls: [{ name: "finish", args: { summary: "done" } }] },
  ]);
  try {
    return await runWithLlm(root, server.origin, MODEL, "sk-faults", [
      "--max-attempts",
      "1",
      "--max-cycles",
      "1",
      ...extra,
    ]);
  } finally {
    await server.close();
  }
}

describe("a path git ignores, written by the model", () => {
  it.each([
    ["build/helper.py", "a file under an ignored folder"],
    ["notes.log", "a file matching an ignored pattern"],
  ])("%s (%s) rejects that candidate (ignored-path) and the campaign goes on", async (ignored) => {
    const env = await environment({ ...CALC_FILES, ".gitignore": "build/\n*.log\n" });
    const head = (await git(env.master, ["rev-parse", "HEAD"])).trim();
    const run = await campaignWith(env.root, [
      FIX,
      { name: "create_file", args: { path: ignored, content: "x = 1\n" } },
    ]);
    expect(run.err, run.out).not.toMatch(/error:/);
    // The campaign ran to its cycle limit (exit 3), rather than failing on the path (exit 1).
    expect(run.code, run.out + run.err).toBe(3);
    expect(run.out).toContain("MAX_CYCLES_REACHED");
    expect((await git(env.master, ["rev-parse", "HEAD"])).trim()).toBe(head);
    const lessons = jsonl(path.join(env.root, "memory", "lessons.jsonl")).filter(
      (l) => l.approach.kind === "llm",
    );
    expect(lessons).toHaveLength(1);
    expect(lessons[0]).toMatchObject({
      outcome: "rejected",
      gate: "policy",
      reason: expect.stringContaining(`policy:ignored-path:${ignored}`),
    });
    const report = readFileSync(path.join(env.root, "reports", "cycle_001_report.md"), "utf8");
    expect(report).toContain("**rejected**");
    expect(report).toContain("ignored-path");
  });
});

describe("a discovered-issue task (all tests green; the issue is a leftover debug print)", () => {
  const IO = 'def load(path):\n    print(f"debug {path=}")\n    return path.upper()\n';
  const FILES = {
    "pkg/__init__.py": "",
    "pkg/io.py": IO,
    "pkg/util.py": "def twice(x):\n    return 2 * x\n",
    "tests/test_io.py":
      "from pkg.io import load\nfrom pkg.util import twice\n\n\ndef test_load():\n    assert load('a') == 'A'\n\n\ndef test_twice():\n    assert twice(2) == 4\n",
    "pytest.ini": "[pytest]\npythonpath = .\n",
    "docs/notes.md": "notes\n",
  };
  const edit = (file: string, old_text: string, new_text: string): ScriptedCall => ({
    name: "replace_in_file",
    args: { path: file, old_text, new_text },
  });

  async function attempt(calls: ScriptedCall[]) {
    const env = await environment(FILES);
    const head = (await git(env.master, ["rev-parse", "HEAD"])).trim();
    const run = await campaignWith(env.root, calls);
    expect(run.err, run.out).not.toMatch(/error:/);
    const after = (await git(env.master, ["rev-parse", "HEAD"])).trim();
    const lessons = jsonl(path.join(env.root, "memory", "lessons.jsonl")).filter(
      (l) => l.approach.kind === "llm",
    );
    const report = readFileSync(path.join(env.root, "reports", "cycle_001_report.md"), "utf8");
    expect(report).toContain("leftover debug print at pkg/io.py:2 in load\\(\\)");
    return { env, run, promoted: after !== head, lesson: lessons[0], report };
  }

  it("an edit elsewhere is not promoted ('no new failure' is not enough)", async () => {
    const r = await attempt([edit("pkg/util.py", "return 2 * x", "return x + x")]);
    expect(r.promoted, r.run.out).toBe(false);
    expect(r.lesson).toMatchObject({
      outcome: "rejected",
      reason: "the diff does not touch pkg/io.py, where the discovered issue is",
    });
  });

  it("rewording the print in its file is not promoted: the issue is still there", async () => {
    const r = await attempt([edit("pkg/io.py", 'f"debug {path=}"', 'f"DEBUG {path=}"')]);
    expect(r.promoted, r.run.out).toBe(false);
    expect(r.lesson).toMatchObject({
      outcome: "rejected",
      reason: "the discovered issue is still in pkg/io.py on the candidate",
    });
  });

  it("removing it is promoted; the commit names the task and the files; an unrelated file is flagged", async () => {
    const r = await attempt([
      edit("pkg/io.py", '    print(f"debug {path=}")\n', ""),
      edit("docs/notes.md", "notes", "notes, edited"),
    ]);
    expect(r.promoted, r.run.out).toBe(true);
    expect(r.lesson).toMatchObject({
      outcome: "promoted",
      reason: expect.stringMatching(/removes the discovered issue in pkg\/io\.py/),
    });
    const message = await git(r.env.master, ["log", "-1", "--format=%B"]);
    expect(message).toContain("leftover debug print at pkg/io.py:2 in load()");
    expect(message).toMatch(/^Files changed: (docs\/notes\.md, pkg\/io\.py|pkg\/io\.py, docs\/notes\.md)$/m);
    expect(r.report).toMatch(/Files unrelated to the task.*docs\/notes\.md/);
    expect(r.report).not.toMatch(/Files unrelated to the task.*pkg\/io\.py/);
  });
});

describe("a tool that cannot start stops the campaign, and is never recorded as a failed approach", () => {
  async function runWithVenv(venv: string) {
    const env = await environment(CALC_FILES);
    const run = await cli(["--root", env.root, "run", "--no-llm", "--max-cycles", "2"], {
      ODIBI_IMPROVE_VENV: venv,
    });
    return { env, run };
  }
  const nothingLearned = (root: string) => {
    expect(jsonl(path.join(root, "memory", "lessons.jsonl"))).toEqual([]);
    const status = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
    expect(status.status).toBe("failed");
    expect(status.issues_avoided).toEqual([]);
  };

  it("the gates' venv deleted", async () => {
    const gone = path.join(tempDir(), "deleted-venv");
    const { env, run } = await runWithVenv(gone);
    expect(run.code, run.out + run.err).toBe(4);
    expect(run.err).toContain(`the gates' venv at ${gone} has no working python`);
    expect(run.err).toContain("odibi-improve setup");
    nothingLearned(env.root);
  });

  it("the venv's python points at an interpreter that is gone", async () => {
    const venv = path.join(tempDir(), "venv");
    mkdirSync(path.join(venv, "bin"), { recursive: true });
    symlinkSync("/nonexistent/python3.11", path.join(venv, "bin", "python"));
    const { env, run } = await runWithVenv(venv);
    expect(run.code, run.out + run.err).toBe(4);
    expect(run.err).toContain("has no working python");
    nothingLearned(env.root);
  });

  it("a configured program that is not installed (generic profile)", async () => {
    const base = tempDir();
    const sacred = await makeGitRepo(path.join(base, "repo"), { "a.txt": "a\n" });
    const root = path.join(base, "root");
    expect((await cli(["init", "--source", sacred, "--root", root, "--profile", "generic"])).code).toBe(0);
    const cfg = path.join(root, "config.yaml");
    writeFileSync(
      cfg,
      readFileSync(cfg, "utf8").replace("commands: {}", 'commands:\n  test: "no-such-tester --all"'),
    );
    const run = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "2"]);
    expect(run.code, run.out + run.err).toBe(4);
    expect(run.err).toContain("no-such-tester (for `no-such-tester --all`) is not installed or not on PATH");
    expect(run.err).toContain("Install no-such-tester");
    nothingLearned(root);
  });
});
