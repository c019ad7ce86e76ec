import { describe, expect, it } from "vitest";
import {
  discoveredIssueGone,
  issueOnBase,
  rejectIgnoredPaths,
  unrelatedFiles,
} from "../src/campaign/candidate-checks.js";
import { decide, type VerdictFacts } from "../src/campaign/decide.js";
import { discoveredTask } from "../src/campaign/find-work.js";
import {
  checkStop,
  exitCodeForStop,
  type StopFacts,
  statusForStop,
  timeLeftMs,
} from "../src/campaign/stop-conditions.js";
import { discoverInPython } from "../src/profiles/python/discover.js";

const clean: VerdictFacts = {
  changed: true,
  policyViolations: [],
  gateErrors: [],
  newFailures: [],
  remainingFailures: 0,
  targetFixed: true,
  missingRequiredGates: [],
  mode: "baseline",
  discoveredIssue: null,
};

describe("decide", () => {
  it("promotes a change that fixes its target and breaks nothing", () => {
    expect(decide(clean)).toEqual({
      action: "promoted",
      reason: "fixes its target and introduces no new failure; all required gates ran",
    });
    expect(decide({ ...clean, targetFixed: null }).action).toBe("promoted");
    // baseline mode tolerates Master's known failures
    expect(decide({ ...clean, remainingFailures: 5 }).action).toBe("promoted");
  });

  it("rejects for each reason, naming the gate", () => {
    expect(decide({ ...clean, changed: false })).toMatchObject({ action: "rejected", reason: /no change/ });
    expect(decide({ ...clean, policyViolations: ["deletes an assertion in tests/test_a.py"] })).toMatchObject(
      {
        action: "rejected",
        gate: "policy",
        reason: "policy: deletes an assertion in tests/test_a.py",
      },
    );
    expect(decide({ ...clean, gateErrors: [{ gate: "tests", message: "pytest not found" }] })).toMatchObject({
      action: "rejected",
      gate: "tests",
      reason: /tests could not run.*pytest not found/,
    });
    expect(decide({ ...clean, missingRequiredGates: ["golden"] })).toMatchObject({
      action: "rejected",
      gate: "golden",
    });
    expect(decide({ ...clean, targetFixed: false })).toMatchObject({
      action: "rejected",
      reason: /still fails/,
    });
    expect(decide({ ...clean, mode: "strict", remainingFailures: 2 })).toMatchObject({
      action: "rejected",
      reason: /strict mode: 2/,
    });
  });

  it("lists new failures, capped", () => {
    const nf = ["a", "b", "c", "d", "e"].map((id) => ({ gate: "tests", id, message: `boom ${id}\ntrace` }));
    const d = decide({ ...clean, newFailures: nf });
    expect(d.action).toBe("rejected");
    expect(d.gate).toBe("tests");
    expect(d.reason).toBe(
      "introduced 5 new failures: tests:a (boom a); tests:b (boom b); tests:c (boom c) and 2 more",
    );
    expect(decide({ ...clean, newFailures: nf.slice(0, 1) }).reason).toBe(
      "introduced 1 new failure: tests:a (boom a)",
    );
  });

  it("checks policy before gate results (the cascade's order)", () => {
    const d = decide({
      ...clean,
      policyViolations: ["too large"],
      newFailures: [{ gate: "lint", id: "x" }],
      targetFixed: false,
    });
    expect(d.gate).toBe("policy");
  });
});

const going: StopFacts = {
  cyclesCompleted: 2,
  maxCycles: 10,
  elapsedMs: 30 * 60_000,
  maxHours: 4,
  consecutiveNoLearning: 0,
  convergenceThreshold: 3,
  stopRequested: false,
  lastCycleFoundWork: true,
};

describe("discovered-issue tasks", () => {
  const base =
    'def load(path):\n    print(f"debug {path=}")\n    return open(path).read()\n\n\ndef save(p, s):\n    return p\n';
  const issue = discoverInPython("pkg/io.py", base)[0]!;
  const task = discoveredTask(issue);
  const facts = { ...clean, targetFixed: null };

  it("'no new failure' alone never promotes one: the diff must touch its file and the issue must be gone", () => {
    expect(decide({ ...facts, discoveredIssue: { file: "pkg/io.py", touched: false, gone: false } })).toEqual(
      { action: "rejected", reason: "the diff does not touch pkg/io.py, where the discovered issue is" },
    );
    expect(decide({ ...facts, discoveredIssue: { file: "pkg/io.py", touched: true, gone: false } })).toEqual({
      action: "rejected",
      reason: "the discovered issue is still in pkg/io.py on the candidate",
    });
    expect(decide({ ...facts, discoveredIssue: { file: "pkg/io.py", touched: true, gone: true } })).toEqual({
      action: "promoted",
      reason:
        "removes the discovered issue in pkg/io.py and introduces no new failure; all required gates ran",
    });
  });

  it("the issue is gone only when its kind has fewer hits in its function and over the changed files", () => {
    expect(issueOnBase(task, base)).toMatchObject({ kind: "debug_print", function: "load" });
    const b = { "pkg/io.py": base };
    const removed = base.replace('    print(f"debug {path=}")\n', "");
    expect(discoveredIssueGone(issue, b, { "pkg/io.py": removed })).toBe(true);
    // Reworded: a different signature, but still a debug print in load().
    const reworded = base.replace('f"debug {path=}"', 'f"DEBUG: {path=}"');
    expect(discoveredIssueGone(issue, b, { "pkg/io.py": reworded })).toBe(false);
    // Moved into save(): gone from load(), but not from the file.
    const moved = removed.replace("    return p\n", '    print(f"debug {p=}")\n    return p\n');
    expect(discoveredIssueGone(issue, b, { "pkg/io.py": moved })).toBe(false);
    // Moved into another file.
    expect(
      discoveredIssueGone(
        issue,
        { ...b, "pkg/other.py": undefined },
        { "pkg/io.py": removed, "pkg/other.py": 'print(f"debug {x=}")\n' },
      ),
    ).toBe(false);
    // The issue's file deleted.
    expect(discoveredIssueGone(issue, b, { "pkg/io.py": undefined })).toBe(false);
  });

  it("unrelated files: neither named by the task nor in a named file's folder", () => {
    expect(unrelatedFiles(task, ["pkg/io.py", "pkg/util.py", "other/x.py", "README.md"])).toEqual([
      "other/x.py",
      "README.md",
    ]);
    // A failing test names the code under test in its traceback: that file is related.
    const failure = {
      kind: "failure" as const,
      target: "tests/test_calc.py::test_add",
      title: "tests failure tests/test_calc.py::test_add: assert -1 == 5",
      signature: "s",
      file: "tests/test_calc.py",
      detail: "calc.py:2: in add",
    };
    expect(unrelatedFiles(failure, ["calc.py", "tests/test_calc.py", "docs/x.md"])).toEqual(["docs/x.md"]);
    expect(unrelatedFiles({ ...failure, file: undefined }, ["docs/x.md"])).toEqual([]);
  });

  it("a path git ignores rejects the candidate under ignored-path", () => {
    expect(rejectIgnoredPaths([])).toBeNull();
    expect(rejectIgnoredPaths(["build/x.py"])).toMatchObject({
      action: "rejected",
      gate: "policy",
      reason: expect.stringContaining("policy:ignored-path:build/x.py"),
    });
  });
});

describe("checkStop", () => {
  it("goes on while no condition holds", () => {
    expect(checkStop(going)).toBeNull();
    expect(checkStop({ ...going, lastCycleFoundWork: undefined, cyclesCompleted: 0 })).toBeNull();
  });

  it("stops for each reason", () => {
    expect(checkStop({ ...going, stopRequested: true })).toBe("STOPPED");
    expect(checkStop({ ...going, maxCostUsd: 1, spentUsd: 1 })).toBe("BUDGET_EXHAUSTED");
    expect(checkStop({ ...going, maxCostUsd: 1, spentUsd: 0.99 })).toBeNull();
    expect(checkStop({ ...going, maxTokens: 1000, tokensUsed: 1500 })).toBe("BUDGET_EXHAUSTED");
    expect(checkStop({ ...going, elapsedMs: 4 * 3_600_000 })).toBe("TIME_BUDGET_EXHAUSTED");
    expect(checkStop({ ...going, cyclesCompleted: 10 })).toBe("MAX_CYCLES_REACHED");
    expect(checkStop({ ...going, lastCycleFoundWork: false })).toBe("NO_WORK");
    expect(checkStop({ ...going, consecutiveNoLearning: 3 })).toBe("CONVERGED");
    expect(checkStop({ ...going, consecutiveNoLearning: 2 })).toBeNull();
  });

  it("puts a stop request first and limits before the campaign's own judgement", () => {
    const everything: StopFacts = {
      ...going,
      stopRequested: true,
      maxCostUsd: 1,
      spentUsd: 2,
      elapsedMs: 5 * 3_600_000,
      cyclesCompleted: 10,
      lastCycleFoundWork: false,
      consecutiveNoLearning: 9,
    };
    expect(checkStop(everything)).toBe("STOPPED");
    expect(checkStop({ ...everything, stopRequested: false })).toBe("BUDGET_EXHAUSTED");
    expect(checkStop({ ...everything, stopRequested: false, spentUsd: 0 })).toBe("TIME_BUDGET_EXHAUSTED");
    expect(checkStop({ ...everything, stopRequested: false, spentUsd: 0, elapsedMs: 0 })).toBe(
      "MAX_CYCLES_REACHED",
    );
    expect(
      checkStop({ ...everything, stopRequested: false, spentUsd: 0, elapsedMs: 0, cyclesCompleted: 1 }),
    ).toBe("NO_WORK");
  });

  it("maps reasons to time left, exit codes and status", () => {
    expect(timeLeftMs({ elapsedMs: 3_600_000, maxHours: 1.5 })).toBe(1_800_000);
    expect(exitCodeForStop("CONVERGED")).toBe(0);
    expect(exitCodeForStop("NO_WORK")).toBe(0);
    expect(exitCodeForStop("TIME_BUDGET_EXHAUSTED")).toBe(3);
    expect(exitCodeForStop("STOPPED")).toBe(3);
    expect(statusForStop("STOPPED")).toBe("stopped");
    expect(statusForStop("MAX_CYCLES_REACHED")).toBe("completed");
  });
});
