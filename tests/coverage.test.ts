import { existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { expect, inject, it } from "vitest";
import { ConfigSchema } from "../src/config/schema.js";
import { MissingTool } from "../src/core/errors.js";
import { createJailedRunner, probeIsolation } from "../src/exec/jail.js";
import { makeGateContext } from "../src/gates/context.js";
import type { GateContext } from "../src/gates/gate.js";
import { profileOf } from "../src/profiles/index.js";
import { collectCoverage, lineRanges, mergeCoverage, runCoverage } from "../src/profiles/python/coverage.js";
import { itWhen } from "./ci-required.js";
import { tempDir, writeFiles } from "./helpers.js";

/**
 * runCoverage: the real coverage.py over the real pytest on a small tree, in the bubblewrap jail as the tests gate
 * runs (tree writable, output folder writable, venv read-only).
 */
const probe = await probeIsolation();
const withJail = itWhen(
  probe.available,
  `the bubblewrap jail does not work here (${probe.reason}): apt-get install bubblewrap`,
);

const TREE: Record<string, string> = {
  "pkg/__init__.py": "",
  "pkg/calc.py": `def sign(x):
    if x > 0:
        return 1
    if x < 0:
        return -1
    return 0


def unused(x):
    y = x * 2
    return y
`,
  "pkg/never.py": "def nobody():\n    return 1\n",
  "tests/test_calc.py": "from pkg.calc import sign\n\n\ndef test_pos():\n    assert sign(3) == 1\n",
  "tests/test_neg.py": "from pkg.calc import sign\n\n\ndef test_neg():\n    assert sign(-3) == -1\n",
};

function jailedContext(venv: string): { ctx: GateContext; repo: string; out: string } {
  const root = tempDir("oi cov ");
  const repo = path.join(root, "repo");
  const out = path.join(root, "out");
  mkdirSync(out, { recursive: true });
  writeFiles(repo, TREE);
  const config = ConfigSchema.parse({ source: { sacred_repo: "/nonexistent-sacred" }, profile: "python" });
  const ctx = makeGateContext({
    workdir: repo,
    config,
    profile: profileOf("python"),
    goldenDir: path.join(root, "golden"),
    outputDir: out,
    venv,
    run: createJailedRunner({ mode: "bwrap", sandbox: repo, readOnly: [venv], readWrite: [out] }),
  });
  return { ctx, repo, out };
}

withJail(
  "measures lines and branches per file, for some tests or the suite, and leaves the tree as it was",
  async () => {
    const { ctx, repo, out } = jailedContext(inject("venv"));
    const one = await runCoverage(ctx, { tests: ["tests/test_calc.py"], source: ["pkg"] });
    expect(one.pytestExit).toBe(0);
    const calc = one.files["pkg/calc.py"]!;
    expect(calc.executed).toEqual(expect.arrayContaining([1, 2, 3, 9]));
    expect(calc.missing).toEqual([4, 5, 6, 10, 11]);
    expect(calc.branches).toEqual({ covered: 1, total: 4 });
    expect(calc.functions.sign!.missing).toEqual([4, 5, 6]);
    expect(calc.functions.unused!.executed).toEqual([]);
    // Never imported, still measured (source): 0 %.
    expect(one.files["pkg/never.py"]!.percent).toBe(0);

    const all = await runCoverage(ctx, { include: ["pkg/calc.py"], source: ["pkg"] });
    expect(Object.keys(all.files)).toEqual(["pkg/calc.py"]);
    expect(all.files["pkg/calc.py"]!.missing).toEqual([6, 10, 11]);
    expect(all.files["pkg/calc.py"]!.percent).toBeGreaterThan(calc.percent);
    expect(lineRanges(all.files["pkg/calc.py"]!.missing)).toBe("6, 10-11");

    // Nothing written in the tree (no .coverage, no .pytest_cache), nothing left in the output folder.
    expect(readdirSync(repo).sort()).toEqual(["pkg", "tests"]);
    expect(existsSync(path.join(repo, ".coverage"))).toBe(false);
    expect(readdirSync(out)).toEqual([]);
  },
  120_000,
);

withJail(
  "measures the Python processes a run starts (harness runs), merged with a test measure",
  async () => {
    const { ctx, repo } = jailedContext(inject("venv"));
    const { result, coverage } = await collectCoverage(ctx, { source: ["pkg"] }, async (env) => {
      const code = "import pkg.calc as c; c.sign(-2); c.unused(1)";
      return (await ctx.workspace.exec("python", ["-c", code], { cwd: repo, env })).exitCode;
    });
    expect(result).toBe(0);
    const calc = coverage.files["pkg/calc.py"]!;
    expect(calc.missing).toEqual([3, 6]);
    const tests = await runCoverage(ctx, { tests: ["tests/test_calc.py"], source: ["pkg"] });
    const both = mergeCoverage(tests.files, coverage.files)["pkg/calc.py"]!;
    expect(both.missing).toEqual([6]);
    expect(both.branches).toEqual({ covered: 3, total: 4 });
    expect(both.functions.unused!.missing).toEqual([]);
    expect(readdirSync(repo).sort()).toEqual(["pkg", "tests"]);
  },
  120_000,
);

withJail(
  "a venv without coverage.py is a MissingTool that names what to install",
  async () => {
    // A venv with neither pytest nor coverage.py: coverage is what is missing first.
    const bare = path.join(tempDir("oi bare venv "), "venv");
    const { runProcess } = await import("../src/exec/run-process.js");
    const base = await runProcess(inject("python"), ["-c", "import sys; print(sys.base_prefix)"], {
      cwd: process.cwd(),
    });
    const py = path.join(base.stdout.trim(), "bin", "python3");
    expect(
      (await runProcess(py, ["-m", "venv", "--without-pip", bare], { cwd: process.cwd() })).exitCode,
    ).toBe(0);
    const { ctx } = jailedContext(bare);
    const err = await runCoverage(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingTool);
    expect((err as MissingTool).hint).toMatch(/odibi-improve setup/);
  },
  60_000,
);

it("lineRanges", () => {
  expect(lineRanges([])).toBe("");
  expect(lineRanges([1, 2, 3, 5, 7, 8])).toBe("1-3, 5, 7-8");
});
