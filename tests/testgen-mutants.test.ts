import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { asTestFilter } from "../src/brain/llm-improver.js";
import { buildTestPrompt } from "../src/brain/prompts.js";
import { testTaskEvidence, uncoveredLines } from "../src/brain/test-evidence.js";
import { branchGain } from "../src/campaign/assure-tests.js";
import { unrelatedFiles } from "../src/campaign/candidate-checks.js";
import { coverageTask } from "../src/campaign/coverage-work.js";
import { checkPolicy } from "../src/policy/index.js";
import { generateMutants, killMutants } from "../src/profiles/python/mutants.js";
import { LocalWorkspace } from "../src/workspace/local-workspace.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * The mutant generator of the test-adding filters (issue 13 item 6) on small sources, with the venv's real Python:
 * each mutation kind, the lines filter, the cap; then killMutants on a real tree (not jailed here; the campaign's
 * acceptance test runs it jailed) restores the target. Plus the tests-only policy rule.
 */

const python = () => inject("python");

const CLAMP = `def clamp(value, low, high):
    # None passes through
    if value is None:
        return None
    if value < low:
        return low
    return min(value, high)
`;

describe("generateMutants", () => {
  it("flips a comparison, both ways, on the line asked for", async () => {
    const m = await generateMutants(python(), CLAMP, { lines: [5], max: 10 });
    const flips = m.filter((x) => x.kind === "flipped-comparison");
    expect(flips).toMatchObject([{ line: 5, description: "< -> >=" }]);
    expect(flips[0]!.source).toContain("if value >= low:");
    expect(flips[0]!.source).toContain("if value is None:");
  });

  it("makes off-by-one mutants of bounds and integer literals", async () => {
    const m = await generateMutants(python(), "def last(xs, n):\n    return xs[n - 1] if n > 0 else None\n", {
      max: 10,
    });
    const off = m.filter((x) => x.kind === "off-by-one").map((x) => x.description);
    expect(off).toEqual(expect.arrayContaining(["> -> >=", "1 -> 2", "0 -> 1"]));
    expect(m.find((x) => x.description === "1 -> 2")!.source).toContain("xs[n - 2]");
  });

  it("drops a None guard (is None: the rest always runs; is not None: the guarded body always runs)", async () => {
    const [isNone] = (await generateMutants(python(), CLAMP, { lines: [3] })).filter(
      (x) => x.kind === "dropped-null-check",
    );
    expect(isNone!.description).toBe("guard 'if ... is None' removed");
    expect(isNone!.source).not.toContain("None");
    expect(isNone!.source).toContain("if value < low:");
    const notNone = "def f(x):\n    if x is not None:\n        return x + 1\n    return 0\n";
    const [m] = (await generateMutants(python(), notNone)).filter((x) => x.kind === "dropped-null-check");
    expect(m!.source).toBe("def f(x):\n    return x + 1\n    return 0");
  });

  it("swaps a call's first two arguments, never two equal ones", async () => {
    const m = await generateMutants(python(), CLAMP, { lines: [7] });
    expect(m.filter((x) => x.kind === "swapped-arguments")).toMatchObject([
      { line: 7, description: "value <-> high" },
    ]);
    expect((await generateMutants(python(), "x = max(a, a)\n")).map((x) => x.kind)).toEqual([]);
  });

  it("keeps to the lines asked for and to the cap, one kind after the other", async () => {
    expect(await generateMutants(python(), CLAMP, { lines: [2, 4] })).toEqual([]);
    const all = await generateMutants(python(), CLAMP, { max: 4 });
    expect(all.map((m) => m.kind)).toEqual([
      "flipped-comparison",
      "off-by-one",
      "dropped-null-check",
      "swapped-arguments",
    ]);
    // Every mutant compiles and differs from the original.
    for (const m of await generateMutants(python(), CLAMP, { max: 20 })) expect(m.source).not.toBe(CLAMP);
  });

  it("says why when the source does not parse", async () => {
    await expect(generateMutants(python(), "def broken(:\n")).rejects.toThrow(/SyntaxError/);
  });
});

describe("killMutants", () => {
  it("runs the tests on each mutant and puts the target back byte for byte", async () => {
    const repo = await makeGitRepo(path.join(tempDir(), "repo"), {
      "limits.py": CLAMP,
      "tests/test_good.py":
        "from limits import clamp\n\n\ndef test_clamp():\n    assert clamp(-5, 0, 10) == 0\n    assert clamp(15, 0, 10) == 10\n    assert clamp(None, 0, 10) is None\n",
      "tests/test_idle.py": "from limits import clamp\n\n\ndef test_calls():\n    clamp(5, 0, 10)\n",
      "pytest.ini": "[pytest]\npythonpath = .\n",
    });
    const ws = new LocalWorkspace(repo);
    const env = { PATH: `${path.dirname(python())}:${process.env.PATH}` };
    const o = { target: "limits.py", env, max: 4 };
    const good = await killMutants(ws, { ...o, tests: ["tests/test_good.py"] });
    expect(good.map((m) => m.kind)).toEqual([
      "flipped-comparison",
      "off-by-one",
      "dropped-null-check",
      "swapped-arguments",
    ]);
    // `< -> <=` on the lower bound needs a test at the bound; min(high, value) equals min(value, high).
    expect(good.map((m) => m.killed)).toEqual([true, false, true, false]);
    const idle = await killMutants(ws, { ...o, tests: ["tests/test_idle.py"] });
    expect(idle.filter((m) => m.killed)).toEqual([]);
    expect(ws.read("limits.py")).toBe(CLAMP);
  });
});

describe("policy rule tests-only (a test-adding task)", () => {
  const settings = {
    protected_paths: [],
    forbidden_connections: [],
    allow_new_features: true,
    max_files_changed: 20,
    max_lines_changed: 500,
  };
  const added = (p: string) =>
    `diff --git a/${p} b/${p}\nnew file mode 100644\n--- /dev/null\n+++ b/${p}\n@@ -0,0 +1,2 @@\n+def test_x():\n+    assert 1 + 1 == 2\n`;
  const modified = (p: string) =>
    `diff --git a/${p} b/${p}\n--- a/${p}\n+++ b/${p}\n@@ -1 +1 @@\n-x = 1\n+x = 2\n`;
  const rules = (diff: string, addTestsOnly: boolean) =>
    checkPolicy(diff, settings, undefined, { addTestsOnly }).map((c) => c.errorType);

  it("lets a new test file through, which a fix task may not add", () => {
    expect(rules(added("tests/test_new.py"), true)).toEqual([]);
    expect(rules(added("tests/test_new.py"), false)).toEqual(["oracle-modified"]);
  });

  it("rejects a changed existing file, test or code, and a new file that is not a test, naming the rule", () => {
    const existingTest = checkPolicy(modified("tests/test_old.py"), settings, undefined, {
      addTestsOnly: true,
    });
    expect(existingTest.map((c) => c.errorType)).toEqual(["oracle-modified", "tests-only"]);
    expect(existingTest[1]!.message).toMatch(
      /^\[tests-only\] a test-adding task may only add new test files; this existing file was modified/,
    );
    expect(rules(modified("pkg/code.py"), true)).toEqual(["tests-only"]);
    expect(rules(added("tests/conftest.py"), true)).toEqual(["oracle-modified", "tests-only"]);
    expect(rules(added("pkg/helper.py"), true)).toContain("tests-only");
  });
});

describe("the prompt of a test-adding task", () => {
  it("reads the coverage task's unexecuted lines and marks them in the target; shows a test of the module", async () => {
    const task = coverageTask(
      {
        name: "limits",
        kind: "module",
        file: "limits.py",
        statements: 6,
        covered: 4,
        branches: 4,
        coveredBranches: 2,
        percent: 60,
        missing: [4, 6],
      },
      "tests only",
    );
    expect(uncoveredLines(task.detail)).toEqual([4, 6]);
    // The new test file is what the task asks for: never flagged as unrelated in the report.
    expect(unrelatedFiles(task, ["tests/test_limits_more.py", "docs/x.md"])).toEqual(["docs/x.md"]);
    expect(uncoveredLines("Lines no test or harness runs: 3-5, 9.")).toEqual([3, 4, 5, 9]);
    const repo = await makeGitRepo(path.join(tempDir(), "repo"), {
      "limits.py": CLAMP,
      "tests/test_other.py": "def test_other():\n    assert 1\n",
      "tests/test_limits.py":
        "from limits import clamp\n\n\ndef test_inside():\n    assert clamp(5, 0, 10) == 5\n",
    });
    const prompt = buildTestPrompt({
      task,
      evidence: testTaskEvidence(new LocalWorkspace(repo), task),
      avoid: ["llm:x: test filter mutants: …"],
      previous: [],
    });
    expect(prompt).toContain("The target limits.py (lines marked ! are not executed by any test)");
    expect(prompt).toContain("!    4          return None");
    expect(prompt).toContain("     5      if value < low:");
    expect(prompt).toContain("An existing test (tests/test_limits.py)");
    expect(prompt).toContain("Tests already tried for this target that were NOT kept");
  });
});

describe("the coverage filter's branch gain", () => {
  it("counts the branches Master's suite never takes that the new tests take", () => {
    const before = {
      statements: [1, 2, 3],
      executed: [1, 2, 3],
      executedBranches: [[2, 3]] as [number, number][],
      missingBranches: [[2, -1]] as [number, number][],
    };
    // No new line, one new branch (the `if` falling through to the function's exit).
    const withNew = {
      statements: [1, 2, 3],
      executed: [1, 2],
      executedBranches: [[2, -1]] as [number, number][],
    };
    expect(branchGain(before, withNew)).toEqual({ gained: 1, total: 2, before: 1 });
    expect(branchGain(before, { ...withNew, executedBranches: [[2, 3]] })).toEqual({
      gained: 0,
      total: 2,
      before: 1,
    });
  });
});

describe("asTestFilter: a test-adding attempt the model's own gates rejected", () => {
  const why = (reason: string, gate = "tests") => ({ rejected: { gate, reason } });
  it("names the filter passes when the new test itself failed", () => {
    const r = asTestFilter(
      why(
        "the gates rejected attempt 1 (changed tests/test_new.py): tests tests/test_new.py::test_x (tests/test_new.py:4): assert 1 == 2",
      ),
    );
    expect(r.rejected).toEqual({
      gate: "test-filter:passes",
      reason: expect.stringMatching(
        /^test filter passes: tests\/test_new\.py fails on Master's code: the gates rejected/,
      ),
    });
  });
  it("leaves any other rejection as it is: a policy rule, an existing test failing", () => {
    const policy = why(
      "the gates rejected attempt 1 (changed tests/test_a.py): policy policy:tests-only:…",
      "policy",
    );
    expect(asTestFilter(policy)).toBe(policy);
    const other = why(
      "the gates rejected attempt 1 (changed tests/test_new.py): tests tests/test_old.py::test_y: boom",
    );
    expect(asTestFilter(other)).toBe(other);
    expect(asTestFilter({})).toEqual({});
  });
});
