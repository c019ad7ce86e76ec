import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { git } from "../src/environment/git.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { cli, jsonl, runWithLlm } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";
import { CALC_FILES } from "./llm-fixtures.js";
import { type ScriptedCall, startLlmServer } from "./llm-server.js";

/**
 * The frozen oracle end to end: the real CLI runs a campaign on the calc fixture (test_add fails: add subtracts)
 * against a scripted model over HTTP, gates in the jail. A model that games the oracle is rejected by the rule
 * naming the oracle path, Master is unchanged, the cycle report lists what was put back; and the model's own
 * run_gates already judges with Master's oracle, so a conftest.py patching the code under test does not make
 * test_add pass there.
 */

const replace = (file: string, old_text: string, new_text: string): ScriptedCall => ({
  name: "replace_in_file",
  args: { path: file, old_text, new_text },
});
const create = (file: string, content: string): ScriptedCall => ({
  name: "create_file",
  args: { path: file, content },
});

let base: string;
let sacred: string;

beforeAll(async () => {
  base = tempDir();
  sacred = await makeGitRepo(path.join(base, "calc"), CALC_FILES);
});

async function campaign(name: string, steps: ScriptedCall[][]) {
  const root = path.join(base, name);
  const init = await cli(["init", "--source", sacred, "--root", root, "--profile", "python"]);
  expect(init.code, init.err).toBe(0);
  const cfg = path.join(root, "config.yaml");
  writeFileSync(cfg, readFileSync(cfg, "utf8").replace("gates:\n", "gates:\n  flake_reruns: 0\n"));
  const master = path.join(root, "master");
  const headBefore = (await git(master, ["rev-parse", "HEAD"])).trim();
  const sacredBefore = takeFingerprint(sacred).digest;
  const server = await startLlmServer([
    ...steps.map((calls) => ({ type: "tools" as const, calls })),
    { type: "tools", calls: [{ name: "finish", args: { summary: "done" } }] },
  ]);
  let run: Awaited<ReturnType<typeof cli>>;
  try {
    run = await runWithLlm(root, server.origin, "oracle-model", "sk-oracle-campaign", [
      "--max-attempts",
      "1",
      "--max-cycles",
      "1",
    ]);
  } finally {
    await server.close();
  }
  expect(server.requests, run.out + run.err).toHaveLength(steps.length + 1);
  const lessons = jsonl(path.join(root, "memory", "lessons.jsonl")).filter((l) => l.approach.kind === "llm");
  return {
    run,
    requests: server.requests,
    lessons,
    promoted: (await git(master, ["rev-parse", "HEAD"])).trim() !== headBefore,
    sacredIntact: takeFingerprint(sacred).digest === sacredBefore,
    report: readFileSync(path.join(root, "reports", "cycle_001_report.md"), "utf8"),
  };
}

describe("the frozen oracle in a campaign", () => {
  it("rejects the expected value changed to the buggy result, and puts Master's test back before the gates", async () => {
    const c = await campaign("expected", [[replace("tests/test_calc.py", "== 5", "== -1")]]);
    expect(c.promoted, c.run.out).toBe(false);
    expect(c.sacredIntact).toBe(true);
    expect(c.lessons).toHaveLength(1);
    expect(c.lessons[0]).toMatchObject({
      outcome: "rejected",
      gate: "policy",
      reason: expect.stringContaining("policy:oracle-modified:tests/test_calc.py"),
    });
    expect(c.report).toMatch(
      /before a gate run \(changed by the candidate, or written by its code in an earlier gate run\):\n\n- tests\/test\\_calc\.py\n/,
    );
    // The model's own full gate run judged Master's test: add(2, 3) is still -1, and Master's test wants 5.
    expect(c.report).toMatch(
      /; tests tests\/test_calc\.py::test_add \(tests\/test_calc\.py:4\): assert -1 == 5/,
    );
  });

  it("rejects a # noqa and a new ruff.toml added with the real fix", async () => {
    const c = await campaign("lint", [
      [
        replace(
          "calc.py",
          "def add(a, b):\n    return a - b",
          "import os  # noqa\n\n\ndef add(a, b):\n    return a + b",
        ),
        create("ruff.toml", 'lint.ignore = ["ALL"]\n'),
      ],
    ]);
    expect(c.promoted, c.run.out).toBe(false);
    const reason = String(c.lessons[0]?.reason);
    expect(reason).toContain("policy:suppression-added:calc.py");
    expect(reason).toContain("policy:oracle-modified:ruff.toml");
    expect(c.report).toMatch(
      /before a gate run \(changed by the candidate, or written by its code in an earlier gate run\):\n\n- ruff\.toml\n/,
    );
  });

  it("judges the model's own run_gates with Master's oracle: a conftest.py patching add does not make test_add pass", async () => {
    const c = await campaign("conftest", [
      [create("conftest.py", "import calc\n\ncalc.add = lambda a, b: a + b\n")],
      [{ name: "run_gates", args: { scope: "full" } }],
    ]);
    expect(c.promoted, c.run.out).toBe(false);
    // The model's run_gates result: the policy names the oracle file, and test_add still fails (the conftest.py
    // was removed before pytest ran).
    const toolResults = JSON.stringify(c.requests[2]!.body.messages.at(-1));
    expect(toolResults).toContain("gates (full): FAIL");
    expect(toolResults).toContain("[oracle-modified] oracle file added (matches conftest.py)");
    expect(toolResults).toMatch(/test_calc\.py::test_add/);
    expect(c.sacredIntact).toBe(true);
  });

  it("puts the oracle back before every gate run: a conftest.py the code under test plants in one run never judges the next", async () => {
    const plant = [
      "from pathlib import Path",
      "",
      'Path(__file__).with_name("tests").joinpath("conftest.py").write_text(',
      '    "import calc\\n\\ncalc.add = lambda a, b: a + b\\n"',
      ")",
      "",
      "",
      "def add(a, b):",
    ].join("\n");
    const c = await campaign("planted", [[replace("calc.py", "def add(a, b):", plant)]]);
    expect(c.promoted, c.run.out).toBe(false);
    expect(c.report).toMatch(
      /before a gate run \(changed by the candidate, or written by its code in an earlier gate run\):\n\n- tests\/conftest\.py\n/,
    );
    // The planted conftest judged nothing: the target still fails (one full run; no cheap step without fail-fast).
    expect(c.report).toMatch(/still failing: tests tests\/test_calc\.py::test_add/);
  });
});
