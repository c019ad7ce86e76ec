import path from "node:path";
import { errorMessage } from "../core/errors.js";
import type { GateContext } from "../gates/gate.js";
import { type CoverageStore, combinedCoverage } from "../harness/coverage.js";
import { type CoverageRun, type FileCoverage, runCoverage } from "../profiles/python/coverage.js";
import { killMutants } from "../profiles/python/mutants.js";
import type { TestsAdded } from "../status/types.js";
import type { Workspace } from "../workspace/workspace.js";
import type { Decision } from "./decide.js";

/**
 * The assured filters of a test-adding task (issue 13, after Meta's TestGen-LLM): a new test is kept only if it
 * (a) `passes` on Master's code, (b) passes `reruns` more runs in a row (a flaky test is rejected), (c) raises the
 * `coverage` of its target (lines or branches the suite without it leaves unexecuted), and (d) fails on at least
 * one of the `mutants` the tool makes of its target (a test that asserts nothing that matters kills none). Run in
 * this order on the frozen candidate, before the usual gates; the first filter that fails rejects the candidate and
 * names itself. Several new files are judged together (the prompt asks for one).
 */

export const TEST_FILTERS = ["passes", "reruns", "coverage", "mutants"] as const;
export type TestFilter = (typeof TEST_FILTERS)[number];

/** Re-runs after the first passing run (TestGen-LLM's five). */
export const RERUNS = 5;

/** The target's lines: its statements, and those a run executed (1-based); its branches taken and not. */
export interface TargetLines {
  statements: readonly number[];
  executed: readonly number[];
  executedBranches?: readonly (readonly [number, number])[];
  missingBranches?: readonly (readonly [number, number])[];
}

const arc = ([a, b]: readonly [number, number]) => `${a}>${b}`;

/** Branches Master's suite never takes that the new tests take, and the branch counts before. */
export function branchGain(before: TargetLines, withNew: TargetLines) {
  const missing = new Set((before.missingBranches ?? []).map(arc));
  const gained = [...new Set((withNew.executedBranches ?? []).map(arc))].filter((k) => missing.has(k));
  const taken = before.executedBranches?.length ?? 0;
  return { gained: gained.length, total: taken + missing.size, before: taken };
}

/** Coverage of the target (coverage.py in the gates' venv, jailed like the gates). */
export interface CoverageProbe {
  /** What Master's suite executes of the target, without the new tests (`tests`). */
  baseline(tests: readonly string[]): Promise<TargetLines>;
  /** What the new tests alone execute of the target, and whether they passed in that run. */
  withTests(tests: readonly string[]): Promise<TargetLines & { passed: boolean }>;
}

export interface AssureInput {
  workspace: Workspace;
  /** The gates' environment (`python` on PATH is the venv's). */
  env: Record<string, string>;
  /** The task's target module (tree-relative). */
  target: string;
  /** The candidate's new test files. */
  tests: readonly string[];
  coverage: CoverageProbe;
  /** Per pytest run (default 5 minutes). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What the filters measured: for the reports (tests added, coverage gained). */
export type AssuredFacts = TestsAdded;

export interface AssureOutcome {
  facts: AssuredFacts;
  /** The first filter that failed, as the rejection; undefined when every filter passed. */
  rejected?: Decision & { filter: TestFilter };
}

const reject = (filter: TestFilter, why: string): Decision & { filter: TestFilter } => ({
  action: "rejected",
  filter,
  gate: `test-filter:${filter}`,
  reason: `test filter ${filter}: ${why}`,
});

/** What pytest says failed: its short summary lines (`FAILED …`, `ERROR …`), else the end of its output. */
function whatFailed(s: string, n = 400): string {
  const summary = s.split("\n").filter((l) => /^(?:FAILED|ERROR) /.test(l));
  const t = (summary.length ? summary.slice(0, 3).join("; ") : s).trim();
  return t.length > n ? `…${t.slice(t.length - n)}` : t;
}

/** pytest on the new tests once: "" when they passed, else why not. */
async function runOnce(i: AssureInput): Promise<string> {
  const r = await i.workspace.exec(
    "python",
    ["-m", "pytest", "-q", "--no-header", "-p", "no:cacheprovider", ...i.tests],
    {
      env: i.env,
      timeoutMs: i.timeoutMs ?? 300_000,
      maxOutputBytes: 1024 * 1024,
      ...(i.signal ? { signal: i.signal } : {}),
    },
  );
  if (r.exitCode === 0) return "";
  if (r.timedOut) return "the run timed out";
  if (r.exitCode === 5) return "pytest collected no test from them";
  return whatFailed(`${r.stdout}\n${r.stderr}`);
}

/**
 * (a) and (b): the new tests pass once (`first`, their run under coverage), then `RERUNS` more times in a row in
 * the same tree (state a test leaves behind shows, as when a developer runs it again).
 */
async function passesAndReruns(
  i: AssureInput,
  first: { passed: boolean },
): Promise<AssureOutcome["rejected"]> {
  const names = i.tests.join(", ");
  if (!first.passed) {
    const why = (await runOnce(i)) || "it failed under coverage, then passed once without it";
    return reject("passes", `${names} fails on Master's code: ${why}`);
  }
  for (let n = 1; n <= RERUNS; n++) {
    const again = await runOnce(i);
    if (again) return reject("reruns", `${names} is flaky: it failed in re-run ${n} of ${RERUNS}: ${again}`);
  }
  return undefined;
}

/**
 * (c): lines of the target the new tests execute that Master's suite does not, or branches it never takes. Also
 * returns what they execute.
 */
async function coverageGain(
  i: AssureInput,
  facts: AssuredFacts,
  withNew: TargetLines,
): Promise<{ rejected?: AssureOutcome["rejected"]; executed: readonly number[] }> {
  const before = await i.coverage.baseline(i.tests);
  const statements = new Set(before.statements);
  const was = new Set(before.executed.filter((l) => statements.has(l)));
  const gained = [...new Set(withNew.executed)]
    .filter((l) => statements.has(l) && !was.has(l))
    .sort((a, b) => a - b);
  const b = branchGain(before, withNew);
  facts.coverage = {
    statements: statements.size,
    before: was.size,
    after: was.size + gained.length,
    gained,
    ...(b.total ? { branches: { total: b.total, before: b.before, after: b.before + b.gained } } : {}),
  };
  const executed = withNew.executed;
  if (gained.length > 0 || b.gained > 0) return { executed };
  const touched = executed.some((l) => statements.has(l));
  const counts = `${was.size}/${statements.size} lines${b.total ? `, ${b.before}/${b.total} branches` : ""}`;
  const rejected = reject(
    "coverage",
    `${i.tests.join(", ")} does not raise the line or branch coverage of ${i.target} (${counts} with and without it${touched ? "" : "; it does not execute the target at all"})`,
  );
  return { rejected, executed };
}

/** (d): the mutants of the target on the lines the new tests execute; at least one must make them fail. */
async function killsAMutant(
  i: AssureInput,
  facts: AssuredFacts,
  lines: readonly number[],
): Promise<AssureOutcome["rejected"]> {
  const runs = await killMutants(i.workspace, {
    target: i.target,
    tests: i.tests,
    lines,
    env: i.env,
    ...(i.signal ? { signal: i.signal } : {}),
  });
  facts.mutants = runs;
  if (runs.some((m) => m.killed)) return undefined;
  if (runs.length === 0)
    return reject(
      "mutants",
      `the tool could make no mutant of ${i.target} on the lines the new tests execute`,
    );
  const shown = runs
    .slice(0, 4)
    .map((m) => `${m.kind} at line ${m.line} (${m.description})`)
    .join("; ");
  return reject(
    "mutants",
    `${i.tests.join(", ")} passes on all ${runs.length} mutants of ${i.target} (${shown}): it asserts nothing that matters`,
  );
}

/** The filters in order; the facts they measured and the first rejection. A filter that cannot run rejects. */
export async function assureNewTests(i: AssureInput): Promise<AssureOutcome> {
  const facts: AssuredFacts = { tests: [...i.tests], target: i.target };
  let step: TestFilter = "passes";
  try {
    const withNew = await i.coverage.withTests(i.tests);
    const rejected = await passesAndReruns(i, withNew);
    if (rejected) return { facts, rejected };
    step = "coverage";
    const cov = await coverageGain(i, facts, withNew);
    if (cov.rejected) return { facts, rejected: cov.rejected };
    step = "mutants";
    const survived = await killsAMutant(i, facts, cov.executed);
    return survived ? { facts, rejected: survived } : { facts };
  } catch (e) {
    if (i.signal?.aborted) throw e;
    return { facts, rejected: reject(step, `the filter could not run: ${errorMessage(e)}`) };
  }
}

/**
 * The probe on a gate context (jailed like the gates, src/profiles/python/coverage.ts): the target's folder is
 * coverage's `source` (a target no test imports counts with all its lines missed), the report is the target's.
 * `known`: Master's coverage of the target as the campaign measured it for this tree (the coverage store): the
 * baseline, instead of running the suite again.
 */
export function coverageProbe(ctx: GateContext, target: string, known?: TargetLines): CoverageProbe {
  const dir = path.posix.dirname(target);
  const opts = { source: [dir], include: [target] };
  const lines = (run: CoverageRun): TargetLines & { passed: boolean } => {
    const f = run.files[target];
    const passed = run.pytestExit === 0;
    return f ? { ...targetLines(f), passed } : { statements: [], executed: [], passed };
  };
  return {
    baseline: async (tests) =>
      known ?? lines(await runCoverage(ctx, { ...opts, pytestArgs: tests.map((t) => `--ignore=${t}`) })),
    withTests: async (tests) => lines(await runCoverage(ctx, { ...opts, tests })),
  };
}

/** One line for a promotion's reason and the reports: what the new tests add. */
export function describeAssured(f: AssuredFacts): string {
  const c = f.coverage;
  const br = c?.branches
    ? `, branches ${c.branches.before}/${c.branches.total} → ${c.branches.after}/${c.branches.total} (+${c.branches.after - c.branches.before})`
    : "";
  const cov = c
    ? `coverage of ${f.target}: lines ${c.before}/${c.statements} → ${c.after}/${c.statements} (+${c.gained.length})${br}`
    : `target ${f.target}`;
  const killed = f.mutants
    ? `, fails on ${f.mutants.filter((m) => m.killed).length} of ${f.mutants.length} mutants`
    : "";
  return `adds ${f.tests.join(", ")}: ${cov}${killed}`;
}

/**
 * Master's coverage of `target` from the campaign's coverage store (campaign/coverage-work.ts: tests, and harness
 * runs when measured), when the store's test measure is of `treeHash`; undefined otherwise.
 */
export function storedBaseline(
  store: CoverageStore | undefined,
  treeHash: string,
  target: string,
): TargetLines | undefined {
  if (!store?.tests || store.tests.treeHash !== treeHash) return undefined;
  const f = combinedCoverage(store)[target];
  return f ? targetLines(f) : undefined;
}

function targetLines(f: FileCoverage): TargetLines {
  return {
    statements: [...f.executed, ...f.missing],
    executed: f.executed,
    executedBranches: f.executedBranches,
    missingBranches: f.missingBranches,
  };
}
