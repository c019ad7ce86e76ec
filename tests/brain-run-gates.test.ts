import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { initPythonRoot, runWithLlm } from "./campaign-cli.js";
import { CALC_FILES } from "./llm-fixtures.js";
import { type Script, type ScriptedLlmServer, type ScriptedReply, startLlmServer } from "./llm-server.js";

/**
 * Issue 12 item 3 at campaign level (real CLI, real git, real pytest and ruff, jailed gates, the scripted model
 * over HTTP): what `run_gates` runs, what it counts as the change's failure, and how often one tree is gated.
 */

const MODEL = "scripted-model";

let server: ScriptedLlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Like a real suite: a test of something else, and a conftest writing data into the work tree at every run. */
const EXTRA_FILES: Record<string, string> = {
  "other.py": "def neg(a):\n    return -a\n",
  "tests/test_other.py": "from other import neg\n\n\ndef test_neg():\n    assert neg(2) == -2\n",
  "tests/conftest.py": [
    "import pathlib",
    "",
    "",
    "def pytest_sessionstart(session):",
    '    out = pathlib.Path(__file__).parent.parent / "artifacts"',
    "    out.mkdir(exist_ok=True)",
    '    (out / "run.bin").write_bytes(bytes(range(256)))',
    "",
  ].join("\n"),
  // Needs a package the venv does not have: fails on Master already, for the environment, not the code.
  "tests/test_spark.py":
    "import pyspark  # noqa: F401\n\nfrom calc import add\n\n\ndef test_add_on_spark():\n    assert add(1, 1) == 2\n",
};

const setup = () => initPythonRoot({ ...CALC_FILES, ...EXTRA_FILES }, { name: "calc" });

async function runCampaign(root: string, script: Script) {
  server = await startLlmServer(script);
  return runWithLlm(root, server.origin, MODEL, "sk-test", ["--max-attempts", "1", "--max-cycles", "3"]);
}

/**
 * The tool commands the gates ran in cycle 1 after the baseline (from the run log: the fix cycle), and the results
 * served from the cache.
 */
function gateRunsOf(out: string) {
  const cycle = out.slice(out.indexOf("brain: attempt 1/"), out.search(/cycle 2 \(/) >>> 0);
  const lines = cycle.split("\n").map((l) => l.replace(/^\[[^\]]*\]/, "").trim());
  const runs = lines.filter((l) => /^\[(lint|tests|validate|golden)\] (?!cached result)/.test(l));
  return {
    tests: runs.filter((l) => l.startsWith("[tests]")),
    fullSuite: runs.filter((l) => l.startsWith("[tests]") && !l.includes("[only")),
    lint: runs.filter((l) => l.startsWith("[lint]")),
    cached: lines.filter((l) => /^\[\w+\] cached result/.test(l)),
  };
}

const call = (name: string, args: Record<string, unknown> = {}): ScriptedReply => ({
  type: "tools",
  calls: [{ name, args }],
});
const fix = call("replace_in_file", { path: "calc.py", old_text: "return a - b", new_text: "return a + b" });

/** What the model was told by its n-th tool call's result (the request after it carries it). */
const toolResult = (n: number): string => {
  const m = server!.requests[n]!.body.messages.at(-1) as { content: unknown };
  return typeof m.content === "string" ? m.content : JSON.stringify(m.content);
};

describe("run_gates: targeted, environment failures apart, one full run per tree", () => {
  it("targeted runs the tests that ran the changed lines; the spark failure is not the change's; finish reuses the model's full run", async () => {
    const { root, master } = await setup();
    const run = await runCampaign(root, [
      call("view_file", { path: "calc.py" }),
      fix,
      call("run_gates", { scope: "targeted" }),
      call("run_gates", { scope: "full" }),
      call("finish", { summary: "add added" }),
    ]);
    const counts = gateRunsOf(run.out);
    console.log(`fix cycle: ${JSON.stringify(counts, null, 1)}`);
    expect(run.code, run.out + run.err).toBe(0);
    expect(run.out).toMatch(/→ promoted:/);
    expect(readFileSync(path.join(master, "calc.py"), "utf8")).toContain("return a + b");

    // Targeted: the test that ran the changed line on Master (its per-test coverage map), which is the target;
    // not test_spark.py (it fails at import, so it never ran `add`), not test_other.py, not lint, not the full suite.
    const targeted = toolResult(3);
    expect(targeted).toContain("gates (targeted): PASS — ran policy (1 checks), tests targeted (1 checks)");
    expect(targeted).not.toContain("lint");
    expect(run.out).toMatch(
      /\[test plan\] targeted tests by Master's coverage map: 1 test\(s\) ran the changed lines/,
    );

    // The spark test fails for want of pyspark (on Master too): listed apart, not a failure of the change.
    const full = toolResult(4);
    expect(full).toContain("gates (full): PASS — ran policy (1 checks), lint (1 checks), tests (4 checks)");
    expect(full).toMatch(
      /not caused by your change \(1; leave them\):\n- \[tests\] tests\/test_spark\.py: needs module pyspark/,
    );

    // In the whole fix cycle, one run of ruff and one of the full suite: the model's. The brain's check after
    // finish and the campaign's verdict are served from it (the target verified alone included).
    expect(counts).toMatchObject({ lint: [expect.any(String)], fullSuite: [expect.any(String)] });
    expect(counts.tests).toHaveLength(3); // targeted, full, the target alone
    expect(counts.cached).toHaveLength(4);
  }, 300_000);

  it("an edit after the model's green full run: finish gates the new bytes; the campaign's verdict reuses that run", async () => {
    const { root, master } = await setup();
    const run = await runCampaign(root, [
      fix,
      call("run_gates", { scope: "full" }),
      // After the green run, one more byte: that tree was never gated.
      call("replace_in_file", { path: "calc.py", old_text: "return a * b", new_text: "return a * b  # mul" }),
      call("finish", { summary: "add added" }),
    ]);
    const counts = gateRunsOf(run.out);
    expect(run.code, run.out + run.err).toBe(0);
    expect(readFileSync(path.join(master, "calc.py"), "utf8")).toContain("return a * b  # mul");
    expect(toolResult(2)).toContain("gates (full): PASS");
    // Two trees, two full runs (the model's, then the brain's after finish on the edited tree); the campaign's
    // verdict on the frozen candidate is served from the second.
    expect(counts.fullSuite).toHaveLength(2);
    expect(counts.lint).toHaveLength(2);
    const hashes = new Set(counts.cached.map((l) => l.split(" ").at(-1)));
    expect(counts.cached).toHaveLength(2);
    expect(hashes.size).toBe(1);
  }, 300_000);
});
