import path from "node:path";
import { createTwoFilesPatch } from "diff";
import { describe, expect, inject, it } from "vitest";
import { ConfigSchema } from "../src/config/schema.js";
import { SacredGuard } from "../src/environment/sacred.js";
import { makeGateContext } from "../src/gates/context.js";
import { type CoverageMap, coverageMapFor, selectByCoverage } from "../src/gates/coverage-map.js";
import type { GateContext } from "../src/gates/gate.js";
import { decideParallelTests } from "../src/gates/parallel-tests.js";
import { isTestFile } from "../src/gates/select-tests.js";
import { testsGate } from "../src/gates/tests-gate.js";
import { profileOf } from "../src/profiles/index.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * The tests gate's plan on real pytest: pytest-xdist when the suite gives the same per-test results in parallel
 * (else serial, with the differing tests as the reason), and the targeted step's selection by Master's per-test
 * coverage map (coverage.py contexts).
 */

const CALC = `def add(a, b):
    return a + b


def sub(a, b):
    return a - b
`;

const SAFE = {
  "pyproject.toml":
    '[project]\nname = "fx"\nversion = "0"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
  "pkg/__init__.py": "",
  "pkg/calc.py": CALC,
  "tests/test_add.py": "from pkg.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
  "tests/test_sub.py":
    "from pkg.calc import sub\n\n\ndef test_sub():\n    assert sub(3, 2) == 1\n\n\ndef test_sub_zero():\n    assert sub(2, 2) == 0\n",
};

/** Tests that share one process's state: test_set must run first in the same process as the others. */
const UNSAFE = {
  ...SAFE,
  "tests/shared.py": "value = []\n",
  "tests/test_shared.py": `from tests import shared


def test_0_set():
    shared.value.append(1)
${Array.from({ length: 6 }, (_, i) => `\n\ndef test_${i + 1}_reads():\n    assert shared.value == [1]\n`).join("")}`,
  "tests/__init__.py": "",
};

function context(workdir: string, overrides: Record<string, unknown> = {}): GateContext {
  const config = ConfigSchema.parse({
    source: { sacred_repo: "/nonexistent-sacred" },
    profile: "python",
    gates: overrides,
  });
  return makeGateContext({
    workdir,
    config,
    profile: profileOf("python"),
    goldenDir: path.join(tempDir(), "golden"),
    outputDir: path.join(tempDir("oi plan out "), "out"),
    venv: inject("venv"),
    // Two workers whatever the machine's cores (`-n auto` reads this), so the unsafe suite is split for sure.
    env: { PYTEST_XDIST_AUTO_NUM_WORKERS: "2" },
  });
}

const store = () => ({ dir: tempDir("oi plans "), guard: new SacredGuard("/nonexistent-sacred") });

describe("parallel tests (pytest-xdist)", () => {
  it("finds a suite whose tests all have the same outcome in parallel, and remembers it", async () => {
    const repo = await makeGitRepo(path.join(tempDir("oi plan repo "), "r"), SAFE);
    const s = { ...store(), setting: "auto" as const };
    const v = await decideParallelTests(context(repo), s);
    // (whether parallel is also faster depends on the machine's load: `parallel` follows `agree` only then)
    expect(v).toMatchObject({ agree: true, tests: 3 });
    expect(v!.parallel).toBe(v!.parallelMs! < v!.serialMs!);
    expect(v!.reason).toMatch(/agree on 3 test/);
    expect(await decideParallelTests(context(repo), { ...s, knownOnly: true })).toMatchObject({
      agree: true,
      cached: true,
    });
    // A full run of the gate with the verdict applied goes through xdist and reads the same three tests.
    const ctx = context(repo);
    ctx.testWorkers = "auto";
    const run = await testsGate.run(ctx, {});
    expect(run.error).toBeUndefined();
    expect(run.checks.map((c) => c.status)).toEqual(["pass", "pass", "pass"]);
  });

  it("stays serial, saying which tests differ, for a suite whose tests share a process's state", async () => {
    const repo = await makeGitRepo(path.join(tempDir("oi plan repo "), "r"), UNSAFE);
    const v = await decideParallelTests(context(repo), { ...store(), setting: "auto" });
    expect(v).toMatchObject({ parallel: false, agree: false });
    expect(v!.reason).toMatch(
      /test\(s\) differ in parallel \(tests\/test_shared\.py::test_\d_reads: pass → fail/,
    );
    // Forced off, nothing is run.
    expect(await decideParallelTests(context(repo), { ...store(), setting: "off" })).toMatchObject({
      parallel: false,
      reason: "gates.parallel_tests is off",
    });
  });
});

describe("targeted selection by Master's coverage map", () => {
  it("selects the tests that ran the changed lines, and not the others", async () => {
    const repo = await makeGitRepo(path.join(tempDir("oi plan repo "), "r"), SAFE);
    const ctx = context(repo);
    const map = await coverageMapFor(ctx, { ...store(), treeHash: "t1" });
    if ("missing" in map) throw new Error(map.missing);
    expect([...map.tests].sort()).toEqual([
      "tests/test_add.py::test_add",
      "tests/test_sub.py::test_sub",
      "tests/test_sub.py::test_sub_zero",
    ]);
    const changed = CALC.replace("return a - b", "return a - b + 0");
    const diff = createTwoFilesPatch("a/pkg/calc.py", "b/pkg/calc.py", CALC, changed);
    expect(selectByCoverage(map, diff, isTestFile).tests.sort()).toEqual([
      "tests/test_sub.py::test_sub",
      "tests/test_sub.py::test_sub_zero",
    ]);
    // Through the gate: only those two run.
    ctx.testMap = map;
    const run = await testsGate.run(ctx, { only: [], changedFiles: ["pkg/calc.py"], diff });
    expect(run.checks.map((c) => c.id).sort()).toEqual([
      "tests/test_sub.py::test_sub",
      "tests/test_sub.py::test_sub_zero",
    ]);
  });

  it("falls back to the import heuristic for a module-level change or a file the map lacks", () => {
    const map: CoverageMap = {
      treeHash: "t",
      command: "python -m pytest",
      builtMs: 0,
      tests: ["tests/test_a.py::test_a"],
      files: { "pkg/a.py": { sets: [[], [0]], lines: { "1": 0, "2": 1 } } },
    };
    const a = "def f():\n    return 1\n";
    const patch = (name: string, before: string, after: string) =>
      createTwoFilesPatch(`a/${name}`, `b/${name}`, before, after);
    expect(selectByCoverage(map, patch("pkg/a.py", a, "def f(x=1):\n    return 1\n"), isTestFile)).toEqual({
      tests: [],
      unmapped: ["pkg/a.py"],
    });
    expect(selectByCoverage(map, patch("pkg/b.py", "x = 1\n", "x = 2\n"), isTestFile)).toEqual({
      tests: [],
      unmapped: ["pkg/b.py"],
    });
  });
});
