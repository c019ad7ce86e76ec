import type { Check, GateName, GateResult, GateRun, Task } from "../core/types.js";
import type { GateTraits } from "./gate.js";

/**
 * The pure verdict (DESIGN.md §4): facts in, decision out. No processes, no disk.
 *
 * Baseline & ratchet: Master's failures are known; a candidate is promotable when it adds no failure outside
 * them, fixes what it targeted, and every gate Master ran also ran fully on the candidate. `strict` requires
 * every check green. Flaky checks (on either side) count for nothing. A `report-inconsistent` check (the tool's
 * channels disagree) is always a new failure, even when Master had one too.
 */
export type VerdictMode = "baseline" | "strict";

export interface GateVerdict {
  promotable: boolean;
  /** Candidate failures with no counterpart in the baseline. */
  newFailures: Check[];
  /** Baseline failures the candidate resolved (baseline's check). */
  fixed: Check[];
  /** Baseline failures still failing on the candidate (candidate's check). */
  stillFailing: Check[];
  /** Checks flaky on either side, excluded from the verdict. */
  flaky: Check[];
  /** Gates the baseline ran fully that the candidate did not (stopped early, crashed before running). */
  notRun: GateName[];
  /** true/false when the target is a baseline failure; undefined when it is not something a gate checks. */
  targetFixed?: boolean;
  reason: string;
}

/** The policy check (the pipeline runs it from a function, CheckGatesOptions.policy): it lists only violations. */
const POLICY: GateTraits = { name: "policy", reportsFailuresOnly: true };

/** What the verdict reads of a gate: the traits of the profile's gate of that name (none for an unknown one). */
function traitsOf(gate: GateName, gates: readonly GateTraits[]): GateTraits | undefined {
  return gate === POLICY.name ? POLICY : gates.find((g) => g.name === gate);
}

/**
 * What makes two checks "the same failure" across baseline and candidate: the id, or for a gate whose ids carry a
 * location (`locationInId`, the profile's `gates`) its errorType + file + message.
 */
export function matchKey(c: Check, gates: readonly GateTraits[]): string {
  if (traitsOf(c.gate, gates)?.locationInId)
    return [c.gate, c.errorType ?? "", c.file ?? "", c.message ?? ""].join("\u0000");
  return `${c.gate}\u0000${c.id}`;
}

const isFull = (run: GateRun | undefined) => run !== undefined && (run.scope ?? "full") === "full";

/**
 * One run per gate: the full run when there is one, else the last targeted run (a candidate stopped by fail-fast).
 */
export function effectiveRuns(result: GateResult): Map<GateName, GateRun> {
  const out = new Map<GateName, GateRun>();
  for (const run of result.runs) {
    const prev = out.get(run.gate);
    if (!prev || isFull(run) || !isFull(prev)) out.set(run.gate, run);
  }
  return out;
}

export function effectiveChecks(result: GateResult): Check[] {
  return [...effectiveRuns(result).values()].flatMap((r) => r.checks);
}

function countBy(checks: Check[], key: (c: Check) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of checks) m.set(key(c), (m.get(key(c)) ?? 0) + 1);
  return m;
}

function matchesTarget(c: Check, target: Task): boolean {
  if (target.gate !== undefined && target.gate !== c.gate) return false;
  return c.id === target.target || `${c.gate}:${c.id}` === target.target;
}

/** `ErrorType: first line of the message`, without repeating a type the message already starts with. */
export function failureText(c: Check): string | undefined {
  const first = c.message?.split("\n")[0];
  if (!first) return c.errorType;
  return c.errorType && !first.startsWith(c.errorType) ? `${c.errorType}: ${first}` : first;
}

function describeCheck(c: Check): string {
  const what = failureText(c);
  return `${c.gate} ${c.id}${what ? ` (${what})` : ""}`;
}

function list(checks: Check[], max = 3): string {
  const shown = checks.slice(0, max).map(describeCheck).join("; ");
  return checks.length > max ? `${shown}; and ${checks.length - max} more` : shown;
}

export interface VerdictOptions {
  /** The profile's gates (`GateContext.profile.gates`): how each one's checks are matched and counted fixed. */
  gates: readonly GateTraits[];
  target?: Task;
  mode?: VerdictMode;
}

export function decideVerdict(
  baseline: GateResult,
  candidate: GateResult,
  opts: VerdictOptions,
): GateVerdict {
  const { gates, target, mode = "baseline" } = opts;
  const key = (c: Check) => matchKey(c, gates);
  const baseRuns = effectiveRuns(baseline);
  const candRuns = effectiveRuns(candidate);
  const baseChecks = [...baseRuns.values()].flatMap((r) => r.checks);
  const candChecks = [...candRuns.values()].flatMap((r) => r.checks);

  const flakyKeys = new Set([...baseChecks, ...candChecks].filter((c) => c.status === "flaky").map(key));
  const flaky = [
    ...candChecks.filter((c) => c.status === "flaky" || (c.status === "fail" && flakyKeys.has(key(c)))),
  ];
  for (const c of baseChecks)
    if (c.status === "flaky" && !candChecks.some((k) => key(k) === key(c))) flaky.push(c);

  const baseFails = baseChecks.filter((c) => c.status === "fail" && !flakyKeys.has(key(c)));
  const candFails = candChecks.filter((c) => c.status === "fail" && !flakyKeys.has(key(c)));

  // Multisets: two identical lint findings in a file are two failures.
  const baseLeft = countBy(baseFails, key);
  const newFailures: Check[] = [];
  const stillFailing: Check[] = [];
  for (const c of candFails) {
    // A result whose channels disagree cannot be trusted on either side: never a known failure.
    if (c.errorType === "report-inconsistent") {
      newFailures.push(c);
      continue;
    }
    const k = key(c);
    const n = baseLeft.get(k) ?? 0;
    if (n > 0) {
      baseLeft.set(k, n - 1);
      stillFailing.push(c);
    } else newFailures.push(c);
  }
  const candPassKeys = new Set(candChecks.filter((c) => c.status === "pass").map(key));
  const candFailLeft = countBy(candFails, key);
  const fixed: Check[] = [];
  for (const b of baseFails) {
    const k = key(b);
    const n = candFailLeft.get(k) ?? 0;
    if (n > 0) {
      candFailLeft.set(k, n - 1);
      continue;
    }
    if (candPassKeys.has(k) || (isFull(candRuns.get(b.gate)) && traitsOf(b.gate, gates)?.reportsFailuresOnly))
      fixed.push(b);
  }

  const notRun = [...baseRuns.values()]
    .filter((r) => isFull(r) && !isFull(candRuns.get(r.gate)))
    .map((r) => r.gate);

  let targetFixed: boolean | undefined;
  let targetNote = "";
  if (target) {
    const targeted = baseChecks.filter((c) => matchesTarget(c, target));
    if (targeted.some((c) => flakyKeys.has(key(c)))) {
      targetFixed = false;
      targetNote = `target ${target.target} is flaky: a pass proves nothing`;
    } else if (targeted.some((c) => c.status === "fail")) {
      targetFixed = targeted.filter((c) => c.status === "fail").every((t) => fixed.includes(t));
      targetNote = targetFixed ? `fixes ${target.target}` : `target ${target.target} is not fixed`;
    } else targetNote = `target ${target.target} is not a baseline failure (not checked by the gates)`;
  }

  const allGreen = candFails.length === 0;
  const reasons: string[] = [];
  if (newFailures.length > 0) reasons.push(`${newFailures.length} new failure(s): ${list(newFailures)}`);
  if (mode === "strict" && stillFailing.length > 0)
    reasons.push(`strict mode: ${stillFailing.length} known failure(s) still failing: ${list(stillFailing)}`);
  if (notRun.length > 0) reasons.push(`gate(s) not run fully on the candidate: ${notRun.join(", ")}`);
  if (targetFixed === false) reasons.push(targetNote);
  const promotable = reasons.length === 0 && (mode === "baseline" || allGreen);

  const facts = [
    targetFixed === true || (target && targetFixed === undefined) ? targetNote : undefined,
    fixed.length > 0 ? `${fixed.length} fixed` : undefined,
    stillFailing.length > 0 && mode === "baseline"
      ? `${stillFailing.length} known failure(s) tolerated`
      : undefined,
    flaky.length > 0 ? `${flaky.length} flaky ignored` : undefined,
  ].filter((f): f is string => f !== undefined);
  const reason = promotable
    ? `promotable: no new failure${facts.length ? `; ${facts.join("; ")}` : ""}`
    : `rejected: ${reasons.join("; ")}`;
  return { promotable, newFailures, fixed, stillFailing, flaky, notRun, targetFixed, reason };
}

/** Counts for reports and status. */
export interface GateSummary {
  testsPassed: number;
  testsFailed: number;
  testsSkipped: number;
  lintErrors: number;
  validateErrors: number;
  goldenPassed: number;
  goldenFailed: number;
  pipelinesRun: number;
  pipelinesPassed: number;
  pipelinesFailed: number;
  flaky: number;
  cachedGates: number;
}

export function summarize(result: GateResult): GateSummary {
  const checks = effectiveChecks(result);
  const count = (gate: GateName, status: Check["status"], pred: (c: Check) => boolean = () => true) =>
    checks.filter((c) => c.gate === gate && c.status === status && pred(c)).length;
  // Golden ids: `golden:<project>`, `golden:<project>/<pipeline>`, `golden:<project>/<pipeline>/<node>`.
  const depth = (c: Check) => (c.id.includes("#") ? -1 : c.id.split("/").length - 1);
  const isProject = (c: Check) => depth(c) === 0;
  const isPipeline = (c: Check) => depth(c) === 1;
  const pipelinesPassed = count("golden", "pass", isPipeline);
  const pipelinesFailed = count("golden", "fail", isPipeline);
  return {
    testsPassed: count("tests", "pass"),
    testsFailed: count("tests", "fail"),
    testsSkipped: count("tests", "skip"),
    lintErrors: count("lint", "fail"),
    validateErrors: count("validate", "fail"),
    goldenPassed: count("golden", "pass", isProject),
    goldenFailed: count("golden", "fail", isProject),
    pipelinesRun: pipelinesPassed + pipelinesFailed,
    pipelinesPassed,
    pipelinesFailed,
    flaky: checks.filter((c) => c.status === "flaky").length,
    cachedGates: result.runs.filter((r) => r.cached).length,
  };
}
