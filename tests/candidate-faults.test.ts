import { readFileSync, writeFileSync } from "node:fs";
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
    expect(report).toContain("REJECTED");
    expect(report).toContain("ignored-path");
  });
});
