import { describe, expect, it } from "vitest";
import { type GatePolicy, judgeCandidate } from "../src/campaign/judge-candidate.js";
import { approachesLeft, type CycleFacts, planCycle } from "../src/campaign/plan-cycle.js";
import { planRecovery } from "../src/campaign/plan-recovery.js";
import type { Check, GateResult, GateRun, Lesson, Task } from "../src/core/types.js";
import { CYCLE_STEPS, type JournalEntry } from "../src/events/schema.js";
import { lintGate } from "../src/gates/lint-gate.js";
import { testsGate } from "../src/gates/tests-gate.js";

// The runner's three plans are pure: facts in, decision out. Facts are built by hand here; the campaign tests
// (campaign-e2e, candidate-faults, campaign-stop) run the same plans on real repositories.

/** A gate result: each gate's checks, in cascade order, with what else its run says (scope, error). */
function result(
  checks: Record<string, Check[]> = {},
  runs: Record<string, Partial<GateRun>> = {},
): GateResult {
  const gateRuns = Object.entries(checks).map(([gate, c]) => ({
    gate,
    checks: c,
    durationMs: 1,
    ...runs[gate],
  }));
  return { treeHash: "t", runs: gateRuns, startedAt: "", durationMs: 0 };
}
const test = (id: string, status: Check["status"], extra: Partial<Check> = {}): Check => ({
  gate: "tests",
  id,
  status,
  ...extra,
});
const unused: Check = {
  gate: "lint",
  id: "F401:pkg/a.py:1:1",
  status: "fail",
  errorType: "F401",
  file: "pkg/a.py",
  line: 1,
  message: "`os` imported but unused",
  autofix: true,
};

describe("planRecovery: the journal's last cycle after a kill", () => {
  const lesson: Lesson = {
    campaignId: "c",
    cycleId: "cycle_001",
    task: { kind: "failure", target: "F401", signature: "s", title: "lint" },
    approach: { kind: "fixer", name: "ruff-fix:F401" },
    outcome: "promoted",
    files: ["pkg/a.py"],
    at: "",
  };
  const e = (step: JournalEntry["step"], data?: Record<string, unknown>, cycle = 1): JournalEntry => ({
    at: "",
    campaign: "c",
    cycle,
    step,
    ...(data ? { data } : {}),
  });
  /** The journal of a cycle that decided to promote, up to and including `last`. */
  const through = (last: (typeof CYCLE_STEPS)[number]) =>
    CYCLE_STEPS.slice(0, CYCLE_STEPS.indexOf(last) + 1).map((s) =>
      s === "decided"
        ? e(s, { action: "promoted", lesson })
        : s === "promote_begin"
          ? e(s, { previous: "old" })
          : e(s),
    );
  const promoting = through("decided");
  const rejected = [
    ...through("attempt_done"),
    e("decided", { action: "rejected", lesson: { ...lesson, outcome: "rejected" } }),
  ];

  it.each<[string, JournalEntry[], string, object]>([
    ["an empty journal", [], "old", { action: "none" }],
    ["a closed cycle", [...promoting, e("cycle_end")], "old", { action: "none" }],
    ["a finished campaign", [e("campaign_end", {}, 0)], "old", { action: "none" }],
    ["a cycle already recovered", [...promoting, e("recovered")], "new", { action: "none" }],
    [
      "killed before the decision",
      through("sandbox_created"),
      "old",
      {
        action: "close-cycle",
        cycle: 1,
        interruptedAt: "sandbox_created",
        promoted: false,
        lesson: undefined,
      },
    ],
    [
      "killed after a promote decision, before the promotion began",
      through("snapshot_done"),
      "old",
      { action: "close-cycle", interruptedAt: "snapshot_done", promoted: false, lesson: undefined },
    ],
    [
      "killed inside the promotion, Master not moved",
      through("promote_begin"),
      "old",
      { action: "close-cycle", interruptedAt: "promote_begin", promoted: false, lesson: undefined },
    ],
    [
      "killed inside the promotion, Master moved",
      through("promote_begin"),
      "new",
      { action: "close-cycle", promoted: true, lesson: { ...lesson, outcome: "promoted" } },
    ],
    [
      "killed after the promotion, lesson not recorded",
      through("promote_done"),
      "new",
      { action: "close-cycle", interruptedAt: "promote_done", promoted: true, lesson },
    ],
    [
      "killed after the lesson was recorded",
      through("lesson_recorded"),
      "new",
      { action: "close-cycle", promoted: true, lesson: undefined },
    ],
    [
      "killed after a rejection, lesson not recorded",
      rejected,
      "old",
      { action: "close-cycle", promoted: false, lesson: { ...lesson, outcome: "rejected" } },
    ],
    [
      "only the last cycle counts",
      [...promoting, e("cycle_end"), e("cycle_start", undefined, 2)],
      "old",
      { action: "close-cycle", cycle: 2, interruptedAt: "cycle_start", promoted: false },
    ],
  ])("%s", (_, entries, masterHead, expected) => {
    expect({ lesson: undefined, ...planRecovery({ entries, masterHead }) }).toMatchObject(expected);
  });

  it("a kill in the middle of a rejection's lesson is never taken for a promotion", () => {
    const plan = planRecovery({ entries: rejected, masterHead: "old" });
    expect(plan.action === "close-cycle" && plan.lesson?.outcome).toBe("rejected");
  });
});

describe("planCycle: the cycle's task, or why there is none", () => {
  const ruff = (t: Task) =>
    t.gate === "lint" ? [{ kind: "fixer" as const, name: "ruff-fix:F401", commands: [["ruff"]] }] : [];
  const facts = (over: Partial<CycleFacts> = {}): CycleFacts => ({
    baseline: result({ lint: [unused], tests: [test("t::a", "fail", { message: "boom" })] }),
    discovered: [],
    memory: { shouldAvoid: () => false, failedApproaches: () => [] },
    fixers: ruff,
    ...over,
  });
  const avoidAll = { shouldAvoid: () => true, failedApproaches: () => [] };

  it.each<
    [string, Partial<CycleFacts>, { target?: string; approaches?: string[]; reason?: RegExp; found: boolean }]
  >([
    ["a fixable lint finding first", {}, { target: unused.id, approaches: ["ruff-fix:F401"], found: true }],
    [
      "a failing test needs an LLM: none configured",
      { baseline: result({ tests: [test("t::a", "fail")] }) },
      { reason: /1 open item\(s\) need an LLM \(configure one/, found: true },
    ],
    [
      "with an LLM, the failing test is the task",
      { baseline: result({ tests: [test("t::a", "fail")] }), llm: "gpt" },
      { target: "t::a", approaches: ["gpt"], found: true },
    ],
    [
      "a fixer that failed is spent, the LLM is not",
      { llm: "gpt", memory: { shouldAvoid: () => false, failedApproaches: () => ["fixer:ruff-fix:F401"] } },
      { target: unused.id, approaches: ["gpt"], found: true },
    ],
    [
      "every approach spent: the task comes with none (it gets avoided)",
      { memory: { shouldAvoid: () => false, failedApproaches: () => ["fixer:ruff-fix:F401"] } },
      { target: unused.id, approaches: [], found: true },
    ],
    [
      "everything avoided: work exists, nothing to try",
      { memory: avoidAll },
      { reason: /every open item is avoided/, found: true },
    ],
    [
      "all green",
      { baseline: result({ tests: [test("t::a", "pass")] }) },
      { reason: /every gate is green and no issue was discovered/, found: false },
    ],
    [
      "a failure for want of a dependency is not work",
      {
        baseline: result({ tests: [test("t::spark", "fail")] }),
        missingDependency: (c) => (c.id === "t::spark" ? "module pyspark" : undefined),
      },
      { reason: /the 1 failing check\(s\) left need dependencies .*\(module pyspark\)/, found: false },
    ],
    [
      "a lint finding in an oracle path is not work",
      { baseline: result({ lint: [unused] }), inOracle: (f) => f === "pkg/a.py" },
      { reason: /every gate is green/, found: false },
    ],
    [
      "focus puts a matching failure first",
      {
        baseline: result({ tests: [test("t::a", "fail"), test("t::window", "fail")] }),
        llm: "gpt",
        focus: ["window"],
      },
      { target: "t::window", found: true },
    ],
    [
      "a discovered issue is work for an LLM",
      {
        baseline: result(),
        discovered: [
          {
            kind: "not_implemented",
            file: "pkg/b.py",
            line: 3,
            text: "raise NotImplementedError",
            context: "raise NotImplementedError",
            title: "complete f",
            signature: "d",
          },
        ],
        llm: "gpt",
      },
      { target: "pkg/b.py:3", found: true },
    ],
  ])("%s", (_, over, want) => {
    const plan = planCycle(facts(over));
    expect(plan.foundWork).toBe(want.found);
    if (want.reason) {
      expect(plan.pick).toBeNull();
      expect(plan.reason).toMatch(want.reason);
      return;
    }
    expect(plan.pick?.task.target).toBe(want.target);
    if (want.approaches) expect(plan.pick?.approaches.map((a) => a.name)).toEqual(want.approaches);
  });

  it("approachesLeft reads memory as it is now (the runner asks again after the attempts)", () => {
    const failed: string[] = [];
    const f = facts({ memory: { shouldAvoid: () => false, failedApproaches: () => failed } });
    const task = planCycle(f).pick!.task;
    expect(approachesLeft(f, task)).toHaveLength(1);
    failed.push("fixer:ruff-fix:F401");
    expect(approachesLeft(f, task)).toEqual([]);
  });
});

describe("judgeCandidate: the gate verdict and the policy, to promote or reject", () => {
  const baseline = result({ lint: [unused], tests: [test("t::a", "pass")] });
  const lintTask: Task = {
    kind: "failure",
    target: unused.id,
    title: "lint",
    signature: "s",
    gate: "lint",
  };
  const fixed = result({ lint: [], tests: [test("t::a", "pass")] });
  const base: GatePolicy = { mode: "baseline" };
  const judge = (
    candidate: GateResult,
    over: {
      policy?: GatePolicy;
      changed?: boolean;
      task?: Task;
      discovered?: { touched: boolean; gone: boolean };
    } = {},
  ) =>
    judgeCandidate({
      baseline,
      candidate,
      task: over.task ?? lintTask,
      policy: over.policy ?? base,
      gates: [lintGate, testsGate],
      changed: over.changed ?? true,
      discoveredIssue: over.discovered ? { file: "pkg/b.py", ...over.discovered } : null,
    });

  it.each<[string, () => ReturnType<typeof judge>, "promoted" | "rejected", RegExp, string?]>([
    ["fixes its target", () => judge(fixed), "promoted", /^fixes its target and introduces no new failure/],
    ["no change", () => judge(fixed, { changed: false }), "rejected", /made no change/],
    [
      "a policy finding",
      () =>
        judge(
          result({
            policy: [{ gate: "policy", id: "test-weakened", status: "fail", message: "deletes an assert" }],
            lint: [],
            tests: [test("t::a", "pass")],
          }),
        ),
      "rejected",
      /^policy: deletes an assert$/,
      "policy",
    ],
    [
      "a gate that could not run",
      () => judge(result({ lint: [], tests: [] }, { tests: { error: "pytest not found" } })),
      "rejected",
      /gate tests could not run on the candidate: pytest not found/,
      "tests",
    ],
    [
      "a new failure",
      () => judge(result({ lint: [], tests: [test("t::a", "fail", { message: "boom" })] })),
      "rejected",
      /introduced 1 new failure: tests:t::a \(boom\)/,
      "tests",
    ],
    ["the target still fails", () => judge(baseline), "rejected", /the targeted failure still fails/],
    [
      "a required gate did not run (stopped early)",
      () =>
        judge(result({ lint: [], tests: [test("t::a", "pass")] }, { tests: { scope: "targeted" } }), {
          policy: { mode: "baseline", require_pytest_pass: true },
        }),
      "rejected",
      /required gate did not run: tests/,
      "tests",
    ],
    [
      "a gate not required that did not run fully",
      () =>
        judge(result({ lint: [], tests: [test("t::a", "pass")] }, { tests: { scope: "targeted" } }), {
          policy: { mode: "baseline", require_pytest_pass: false },
        }),
      "promoted",
      /fixes its target/,
    ],
    [
      "strict mode with a known failure left",
      () =>
        judgeCandidate({
          baseline: result({ lint: [unused], tests: [test("t::b", "fail")] }),
          candidate: result({ lint: [], tests: [test("t::b", "fail")] }),
          task: lintTask,
          policy: { mode: "strict" },
          gates: [lintGate, testsGate],
          changed: true,
          discoveredIssue: null,
        }),
      "rejected",
      /strict mode: 1 check\(s\) still fail/,
    ],
    [
      "a discovered issue the diff does not touch",
      () =>
        judge(fixed, {
          task: { kind: "discovered", target: "pkg/b.py:3", title: "x", signature: "d" },
          discovered: { touched: false, gone: false },
        }),
      "rejected",
      /does not touch pkg\/b\.py/,
    ],
    [
      "a discovered issue removed",
      () =>
        judge(baseline, {
          task: { kind: "discovered", target: "pkg/b.py:3", title: "x", signature: "d" },
          discovered: { touched: true, gone: true },
        }),
      "promoted",
      /removes the discovered issue in pkg\/b\.py/,
    ],
  ])("%s", (_, judged, action, reason, gate) => {
    const { decision } = judged();
    expect(decision.action).toBe(action);
    expect(decision.reason).toMatch(reason);
    if (gate) expect(decision.gate).toBe(gate);
  });

  it("returns the gate verdict it decided on (the report lists its new failures)", () => {
    const { verdict } = judge(result({ lint: [], tests: [test("t::a", "fail")] }));
    expect(verdict.newFailures.map((c) => c.id)).toEqual(["t::a"]);
    expect(verdict.targetFixed).toBe(true);
  });
});
