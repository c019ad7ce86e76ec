import { describe, expect, it } from "vitest";
import type { Check, GateResult, GateRun, Task } from "../src/core/types.js";
import { decideVerdict, matchKey, summarize } from "../src/gates/verdict.js";
import { profileOf } from "../src/profiles/index.js";

/** The verdict reads how each gate's failures match from the profile's gates (odibi: all four). */
const GATES = profileOf("odibi").gates;

// Pure function under test: results are built by hand (the pipeline tests produce real ones).
const t = (id: string, status: Check["status"], extra: Partial<Check> = {}): Check => ({
  gate: "tests",
  id,
  status,
  ...extra,
});
const lint = (rule: string, file: string, line: number, message: string): Check => ({
  gate: "lint",
  id: `${rule}:${file}:${line}:1`,
  status: "fail",
  errorType: rule,
  file,
  line,
  message,
});
const run = (gate: string, checks: Check[], extra: Partial<GateRun> = {}): GateRun => ({
  gate,
  checks,
  durationMs: 1,
  ...extra,
});
const result = (...runs: GateRun[]): GateResult => ({ treeHash: "t", runs, startedAt: "", durationMs: 0 });
const task = (target: string, gate = "tests"): Task => ({
  kind: "failure",
  target,
  title: target,
  signature: "s",
  gate,
});

const BASE = result(
  run("lint", [lint("F401", "pkg/a.py", 1, "`os` imported but unused")]),
  run("tests", [
    t("a::ok", "pass"),
    t("a::broken", "fail", { message: "assert 1 == 2" }),
    t("a::other", "pass"),
  ]),
);

describe("decideVerdict", () => {
  it("an unchanged candidate is promotable in baseline mode and not in strict mode", () => {
    const v = decideVerdict(BASE, BASE, { gates: GATES });
    expect(v.promotable).toBe(true);
    expect(v.newFailures).toEqual([]);
    expect(v.stillFailing.map((c) => c.id).sort()).toEqual(["F401:pkg/a.py:1:1", "a::broken"]);
    expect(v.reason).toMatch(/^promotable: no new failure; 2 known failure\(s\) tolerated$/);
    const strict = decideVerdict(BASE, BASE, { gates: GATES, mode: "strict" });
    expect(strict.promotable).toBe(false);
    expect(strict.reason).toContain("strict mode: 2 known failure(s) still failing");
  });

  it("a failure outside the baseline rejects, naming the check", () => {
    const cand = result(
      BASE.runs[0]!,
      run("tests", [
        t("a::ok", "pass"),
        t("a::broken", "fail"),
        t("a::other", "fail", { errorType: "KeyError", message: "'x'" }),
      ]),
    );
    const v = decideVerdict(BASE, cand, { gates: GATES });
    expect(v.promotable).toBe(false);
    expect(v.newFailures.map((c) => c.id)).toEqual(["a::other"]);
    expect(v.reason).toBe("rejected: 1 new failure(s): tests a::other (KeyError: 'x')");
  });

  it("fixing the target promotes; not fixing it rejects", () => {
    const fixedRun = result(
      BASE.runs[0]!,
      run("tests", [t("a::ok", "pass"), t("a::broken", "pass"), t("a::other", "pass")]),
    );
    const v = decideVerdict(BASE, fixedRun, { gates: GATES, target: task("a::broken") });
    expect(v).toMatchObject({ promotable: true, targetFixed: true });
    expect(v.fixed.map((c) => c.id)).toEqual(["a::broken"]);
    expect(v.reason).toContain("fixes a::broken");
    const notFixed = decideVerdict(BASE, BASE, { gates: GATES, target: task("a::broken") });
    expect(notFixed).toMatchObject({ promotable: false, targetFixed: false });
    expect(notFixed.reason).toContain("target a::broken is not fixed");
  });

  it("a deleted failing test is not a fix (tests must be present and pass)", () => {
    const deleted = result(BASE.runs[0]!, run("tests", [t("a::ok", "pass"), t("a::other", "pass")]));
    const v = decideVerdict(BASE, deleted, { gates: GATES, target: task("a::broken") });
    expect(v.fixed).toEqual([]);
    expect(v.promotable).toBe(false);
  });

  it("a target that is no baseline failure is not required (nothing a gate can check)", () => {
    const v = decideVerdict(BASE, BASE, {
      gates: GATES,
      target: task("odibi/transformers/merge.py", "golden"),
    });
    expect(v.targetFixed).toBeUndefined();
    expect(v.promotable).toBe(true);
    expect(v.reason).toContain("not a baseline failure");
  });

  it("lint findings are matched by rule, file and message: a shifted line is not new, a gone finding is fixed", () => {
    const shifted = result(
      run("lint", [lint("F401", "pkg/a.py", 3, "`os` imported but unused")]),
      BASE.runs[1]!,
    );
    expect(decideVerdict(BASE, shifted, { gates: GATES }).newFailures).toEqual([]);
    const clean = result(run("lint", [{ gate: "lint", id: "ruff", status: "pass" }]), BASE.runs[1]!);
    const v = decideVerdict(BASE, clean, { gates: GATES });
    expect(v.fixed.map((c) => c.id)).toEqual(["F401:pkg/a.py:1:1"]);
    const twice = result(
      run("lint", [
        lint("F401", "pkg/a.py", 1, "`os` imported but unused"),
        lint("F401", "pkg/a.py", 9, "`os` imported but unused"),
      ]),
      BASE.runs[1]!,
    );
    expect(decideVerdict(BASE, twice, { gates: GATES }).newFailures.map((c) => c.line)).toEqual([9]);
    expect(matchKey(lint("F401", "a.py", 1, "m"), GATES)).toBe(matchKey(lint("F401", "a.py", 7, "m"), GATES));
    expect(matchKey(t("x", "fail"), GATES)).not.toBe(matchKey(t("y", "fail"), GATES));
  });

  it("reads how failures match and when they count as fixed from the gates it is given, not from gate names", () => {
    // A gate of another name with lint's traits is judged as lint is; the lint gate without them by id.
    const style = (line: number): Check => ({
      ...lint("E1", "a.py", line, "m"),
      gate: "style",
      id: `E1:a.py:${line}:1`,
    });
    const styleGate = { name: "style", reportsFailuresOnly: true, locationInId: true };
    const base = result(run("style", [style(1)]));
    expect(decideVerdict(base, result(run("style", [style(4)])), { gates: [styleGate] }).newFailures).toEqual(
      [],
    );
    expect(decideVerdict(base, result(run("style", [])), { gates: [styleGate] }).fixed).toHaveLength(1);
    const plain = { gates: [{ name: "style" }] };
    expect(decideVerdict(base, result(run("style", [style(4)])), plain).newFailures).toHaveLength(1);
    expect(decideVerdict(base, result(run("style", [])), plain).fixed).toEqual([]);
    expect(matchKey(lint("F401", "a.py", 1, "m"), [])).not.toBe(matchKey(lint("F401", "a.py", 7, "m"), []));
  });

  it("flaky checks neither promote nor block", () => {
    const flakyCand = result(
      BASE.runs[0]!,
      run("tests", [
        t("a::ok", "pass"),
        t("a::broken", "fail"),
        t("a::other", "flaky", { message: "failed, then passed" }),
      ]),
    );
    const v = decideVerdict(BASE, flakyCand, { gates: GATES });
    expect(v.promotable).toBe(true);
    expect(v.flaky.map((c) => c.id)).toEqual(["a::other"]);
    expect(v.reason).toContain("1 flaky ignored");
    // Flaky in the baseline, failing on the candidate: still a flake, not a new failure.
    const baseFlaky = result(
      BASE.runs[0]!,
      run("tests", [t("a::ok", "pass"), t("a::broken", "fail"), t("a::other", "flaky")]),
    );
    const candFails = result(
      BASE.runs[0]!,
      run("tests", [t("a::ok", "pass"), t("a::broken", "fail"), t("a::other", "fail")]),
    );
    expect(decideVerdict(baseFlaky, candFails, { gates: GATES }).newFailures).toEqual([]);
    // A flaky target cannot be "fixed" by passing once.
    const flakyTarget = decideVerdict(
      baseFlaky,
      result(BASE.runs[0]!, run("tests", [t("a::other", "pass")])),
      { gates: GATES, target: task("a::other") },
    );
    expect(flakyTarget.promotable).toBe(false);
    expect(flakyTarget.reason).toContain("is flaky");
  });

  it("a gate that did not run fully on the candidate rejects (fail-fast stopped it, or it is missing)", () => {
    const targetedOnly = result(BASE.runs[0]!, run("tests", [t("a::broken", "pass")], { scope: "targeted" }));
    const v = decideVerdict(BASE, targetedOnly, { gates: GATES });
    expect(v.promotable).toBe(false);
    expect(v.notRun).toEqual(["tests"]);
    expect(v.reason).toContain("not run fully on the candidate: tests");
    const noTests = decideVerdict(BASE, result(BASE.runs[0]!), { gates: GATES });
    expect(noTests.notRun).toEqual(["tests"]);
  });

  it("the full run supersedes a targeted run of the same gate", () => {
    const cand = result(
      BASE.runs[0]!,
      run("tests", [t("a::broken", "pass")], { scope: "targeted" }),
      run("tests", [t("a::ok", "pass"), t("a::broken", "pass"), t("a::other", "pass")], { scope: "full" }),
    );
    const v = decideVerdict(BASE, cand, { gates: GATES, target: task("a::broken") });
    expect(v.promotable).toBe(true);
    expect(summarize(cand).testsPassed).toBe(3);
  });
});

describe("summarize", () => {
  it("counts tests, lint errors, golden projects and pipelines", () => {
    const r = result(
      run("lint", [lint("F401", "a.py", 1, "m"), lint("E711", "a.py", 2, "n")]),
      run("tests", [t("a", "pass"), t("b", "fail"), t("c", "skip"), t("d", "flaky")], { cached: true }),
      run("golden", [
        { gate: "golden", id: "golden:hello", status: "pass" },
        { gate: "golden", id: "golden:hello/main", status: "pass" },
        { gate: "golden", id: "golden:hello/main/load", status: "pass" },
        { gate: "golden", id: "golden:scd2", status: "fail" },
        { gate: "golden", id: "golden:scd2/p1", status: "fail" },
        { gate: "golden", id: "golden:scd2/p1/merge", status: "fail" },
        { gate: "golden", id: "golden:scd2/p2", status: "pass" },
      ]),
    );
    expect(summarize(r)).toEqual({
      testsPassed: 1,
      testsFailed: 1,
      testsSkipped: 1,
      lintErrors: 2,
      validateErrors: 0,
      goldenPassed: 1,
      goldenFailed: 1,
      pipelinesRun: 3,
      pipelinesPassed: 2,
      pipelinesFailed: 1,
      flaky: 1,
      cachedGates: 1,
    });
  });
});
