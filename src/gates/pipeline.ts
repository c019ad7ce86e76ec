import { requiredGateNames } from "../config/required-gates.js";
import type { Config } from "../config/schema.js";
import { ExitCode, OdibiImproveError } from "../core/errors.js";
import type { Check, GateResult, GateRun, Task } from "../core/types.js";
import { type GateCache, hashWorkTree } from "./cache.js";
import type { Gate, GateContext, GateRunOptions, GateTraits } from "./gate.js";
import { decideVerdict, failureText, matchKey, type VerdictMode } from "./verdict.js";

/** The diff policy gate (src/policy): the candidate's diff in, one failing check per violation out. */
export type PolicyHook = (diff: string, config: Config) => Check[];

export interface CheckGatesOptions {
  /** Gates to run, in order. Default: the profile's that apply. */
  gates?: Gate[];
  policy?: PolicyHook;
  /** The candidate's diff against Master, for the policy hook. */
  diff?: string;
  /** Stop at the first real failure (a failure outside `baseline`; in strict mode, any failure). */
  failFast?: boolean;
  /** Master's result: its failures are not "real" for fail-fast. */
  baseline?: GateResult;
  /** What the candidate set out to fix: its check runs first (targeted step). */
  target?: Task;
  /** Files the candidate changed: tests touching them run before the full suite. */
  changedFiles?: string[];
  /**
   * Only the cheap step: the target's check and the tests touching `changedFiles`; a gate that cannot run a subset
   * (lint, validate, golden) runs only when the target is its own. No full suite.
   */
  targetedOnly?: boolean;
  cache?: GateCache;
  /** Extra runs of a failing check; default `config.gates.flake_reruns`. */
  flakeReruns?: number;
  mode?: VerdictMode;
  /** Known tree hash (else hashWorkTree of the work tree as it is after `beforeRun`). */
  treeHash?: string;
  /** Called after each gate run (progress). */
  onRun?: (run: GateRun) => void;
  /**
   * Awaited before every run of a gate (targeted, full, re-runs): the campaign puts Master's oracle back here, so
   * that what code under test wrote during one gate run (a conftest.py, a ruff.toml) never judges the next.
   */
  beforeRun?: () => Promise<unknown>;
}

export class GatesStopped extends OdibiImproveError {
  constructor() {
    super("gate run stopped", { exitCode: ExitCode.limit });
  }
}

/**
 * The gates that apply to this context, in cascade order: the profile's gates the configuration requires
 * (`requiredGateNames`), each deciding by `applies(ctx)`. `policy` is not a gate object: it looks at the diff only
 * and comes in as a function (CheckGatesOptions.policy).
 */
export function applicableGates(ctx: GateContext): Gate[] {
  const required = requiredGateNames(ctx.config.gates, ctx.profile.gates);
  return ctx.profile.gates.filter((g) => required.has(g.name) && g.applies(ctx));
}

/** Checks that name no test to select (a crash, channels that disagree): never re-run, never flaky. */
const untestable = (c: Check) => c.id.endsWith(":crash") || c.errorType === "report-inconsistent";

/**
 * Run a gate, then re-run its failing checks up to `reruns` times: gates that can run a subset re-run only the
 * failing ids ("alone"), others re-run whole. A check that fails and then passes alone is not yet flaky: it may
 * depend on what ran before it. It is re-run in the same scope as the first run (up to `reruns` times, stopping at
 * its first pass): passing there it is `flaky` (excluded from verdicts); failing in every one it is a failure with
 * errorType `order-dependent`, a real failure for verdicts. Crash and report-inconsistent checks are not re-run:
 * there is no such test to select. Tools that cannot select tests (cargo test, unknown commands) are therefore not
 * re-run either (the tests gate runs nothing for them).
 */
export async function runWithFlakeReruns(
  gate: Gate,
  ctx: GateContext,
  opts: GateRunOptions,
  reruns: number,
  /** Failures not worth re-running (known baseline failures: tolerated either way). */
  known?: (c: Check) => boolean,
): Promise<GateRun> {
  const run = await gate.run(ctx, opts);
  if (!gate.rerunnable || reruns <= 0) return run;
  let failing = run.checks.filter((c) => c.status === "fail" && !untestable(c) && !known?.(c));
  const passedAlone: Check[] = [];
  for (let i = 1; i <= reruns && failing.length > 0; i++) {
    if (ctx.signal?.aborted) break;
    const again = await gate.run(ctx, gate.targeted ? { only: failing.map((c) => c.id) } : opts);
    run.durationMs += again.durationMs;
    const passed = new Set(again.checks.filter((c) => c.status === "pass").map((c) => c.id));
    for (const c of failing) {
      if (!passed.has(c.id)) continue;
      c.status = "flaky";
      c.message = `failed, then passed on re-run ${i} of ${reruns}: ${c.message ?? ""}`.trim();
      if (gate.targeted) passedAlone.push(c);
    }
    failing = failing.filter((c) => c.status === "fail");
  }
  // Passing alone proves nothing about the run it failed in: run that scope again.
  let suspects = passedAlone;
  let confirmations = 0;
  // A confirmation run that did not complete (or none at all) says nothing either way: the checks stay failures.
  const unconfirmed = (why: string) => {
    for (const c of suspects) {
      c.status = "fail";
      c.message = `${c.message ?? ""} (not confirmed in the full run: ${why})`.trim();
    }
    return run;
  };
  for (let i = 1; i <= reruns && suspects.length > 0; i++) {
    if (ctx.signal?.aborted) return unconfirmed("stopped");
    const again = await gate.run(ctx, opts);
    run.durationMs += again.durationMs;
    if (again.error !== undefined) return unconfirmed(again.error);
    confirmations = i;
    const passed = new Set(again.checks.filter((c) => c.status === "pass").map((c) => c.id));
    suspects = suspects.filter((c) => !passed.has(c.id));
  }
  for (const c of suspects) {
    c.status = "fail";
    c.errorType = "order-dependent";
    c.message =
      `fails in the full run (again in ${confirmations} more) and passes alone: it depends on what runs ` +
      `before it; ${c.message?.replace(/^failed, then passed on re-run \d+ of \d+: /, "") ?? ""}`.trim();
  }
  return run;
}

/**
 * The target of a fix task, passing in `run`, is run once more alone in a fresh process: a pass that needs the
 * rest of the suite (state left by another test, a forged report) is no fix. Not passing there, the target's
 * check in `run` becomes a failure (errorType `order-dependent` when it failed alone, `target-unverified` when the
 * run gave no result for it).
 */
export async function verifyTargetAlone(
  gate: Gate,
  ctx: GateContext,
  run: GateRun,
  target: string,
): Promise<GateRun> {
  const check = run.checks.find((c) => c.id === target && c.status === "pass");
  if (!check || !gate.targeted) return run;
  const alone = await gate.run(ctx, { only: [target] });
  // No checks and no error: the tool cannot run a single check (cargo test, a plain command).
  if (alone.checks.length === 0 && alone.error === undefined) return run;
  const mine = alone.checks.find((c) => c.id === target);
  if (mine?.status === "pass") return { ...run, durationMs: run.durationMs + alone.durationMs };
  const failed = mine?.status === "fail";
  const verified: Check = {
    ...check,
    status: "fail",
    errorType: failed ? "order-dependent" : "target-unverified",
    message: failed
      ? `passes in the full run but fails alone in a fresh process: ${failureText(mine) ?? ""}`.trim()
      : `passes in the full run but gave no result alone in a fresh process${alone.error ? `: ${alone.error}` : ""}`,
    detail: mine?.detail ?? check.detail,
  };
  return {
    ...run,
    durationMs: run.durationMs + alone.durationMs,
    checks: run.checks.map((c) => (c === check ? verified : c)),
  };
}

function realFailures(
  run: GateRun,
  baseline: GateResult | undefined,
  mode: VerdictMode,
  gates: readonly GateTraits[],
): Check[] {
  const fails = run.checks.filter((c) => c.status === "fail");
  if (fails.length === 0 || !baseline || mode === "strict") return fails;
  const v = decideVerdict(baseline, { treeHash: "", runs: [run], startedAt: "", durationMs: 0 }, { gates });
  return v.newFailures;
}

/**
 * The cascade (DESIGN.md §4): policy (diff only) → lint → validate → tests (target and tests touching the change
 * first, then the full suite) → golden. Results of full runs are cached by work-tree hash (hashWorkTree: the bytes
 * as gated), the target's check verified alone too: a gate whose full result is cached runs nothing, not even
 * its cheap step. With `failFast` the candidate is rejected at the first real failure: later gates do not run
 * (the verdict then says which gates did not run). With `targetedOnly`, only the cheap step runs.
 */
export async function checkGates(ctx: GateContext, opts: CheckGatesOptions = {}): Promise<GateResult> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const mode = opts.mode ?? ctx.config.gates.mode;
  // What the verdict reads of each gate (how its failures match): the gates asked for, then the profile's.
  const traits = [...(opts.gates ?? []), ...ctx.profile.gates];
  const reruns = opts.flakeReruns ?? ctx.config.gates.flake_reruns;
  // The hash is of the tree as the first gate will see it: after `beforeRun` (Master's oracle put back).
  if (opts.treeHash === undefined) await opts.beforeRun?.();
  const treeHash = opts.treeHash ?? hashWorkTree(ctx.workdir);
  const runs: GateRun[] = [];
  const done = () => ({ treeHash, runs, startedAt, durationMs: Math.round(performance.now() - started) });
  // In baseline mode a failure Master already has is tolerated whatever a re-run says: re-running it only costs
  // time (on odibi, its two failing suites, every candidate). The target is still re-run.
  const baselineFailures = new Set(
    mode === "baseline" && opts.baseline
      ? opts.baseline.runs.flatMap((r) =>
          r.checks.filter((c) => c.status === "fail").map((c) => matchKey(c, traits)),
        )
      : [],
  );
  const knownFailure = (c: Check) =>
    baselineFailures.has(matchKey(c, traits)) && !(opts.target && c.id === opts.target.target);
  const record = (run: GateRun): boolean => {
    runs.push(run);
    opts.onRun?.(run);
    if (ctx.signal?.aborted) throw new GatesStopped();
    return Boolean(opts.failFast) && realFailures(run, opts.baseline, mode, traits).length > 0;
  };

  if (opts.policy && opts.diff !== undefined) {
    const t = performance.now();
    const checks = opts.policy(opts.diff, ctx.config);
    const run: GateRun = {
      gate: "policy",
      checks: checks.length > 0 ? checks : [{ gate: "policy", id: "policy", status: "pass" }],
      durationMs: Math.round(performance.now() - t),
    };
    if (record(run)) return done();
  }

  const before = opts.beforeRun;
  const gates = (opts.gates ?? applicableGates(ctx)).map(
    (g): Gate =>
      before
        ? Object.assign(Object.create(g) as Gate, {
            run: async (c: GateContext, o?: GateRunOptions) => {
              await before();
              return g.run(c, o);
            },
          })
        : g,
  );
  for (const gate of gates) {
    const targetIds =
      opts.target && (opts.target.gate ?? gate.name) === gate.name ? [opts.target.target] : [];
    const changed = gate.selectsByChangedFiles ? (opts.changedFiles ?? []) : [];
    const cheapStep = async (): Promise<boolean> => {
      const cheap: GateRunOptions =
        changed.length > 0
          ? {
              only: targetIds,
              changedFiles: changed,
              ...(opts.diff === undefined ? {} : { diff: opts.diff }),
            }
          : { only: targetIds };
      const targeted = await runWithFlakeReruns(gate, ctx, cheap, reruns, knownFailure);
      return targeted.checks.length > 0 && record({ ...targeted, scope: "targeted" });
    };
    if (opts.targetedOnly) {
      if (gate.targeted) {
        if ((targetIds.length > 0 || changed.length > 0) && (await cheapStep())) return done();
        continue;
      }
      // A gate that cannot run a subset is run whole only for a target of its own (a golden project, a lint rule).
      if (targetIds.length === 0) continue;
    }
    const fingerprint = opts.cache && gate.fingerprint ? await gate.fingerprint(ctx) : undefined;
    const keyFor = (target?: string) =>
      opts.cache && fingerprint !== undefined
        ? opts.cache.key({
            treeHash,
            gate: gate.name,
            fingerprint: ctx.dependencies === undefined ? fingerprint : `${fingerprint}\0${ctx.dependencies}`,
            flakeReruns: reruns,
            isolation: ctx.isolation ?? "none",
            ...(target === undefined ? {} : { target }),
          })
        : undefined;
    const key = keyFor();
    const target = targetIds[0];
    // The target is verified alone on every tree (the full run is cached by tree, not by task); that verdict is
    // cached too, under the tree and the target.
    const verifiedKey = target === undefined ? undefined : keyFor(target);
    const verify = async (run: GateRun) => {
      if (target === undefined) return run;
      const verified = await verifyTargetAlone(gate, ctx, run, target);
      const unverified = verified.checks.some((c) => c.errorType === "target-unverified");
      if (verifiedKey && verified.error === undefined && !unverified && !ctx.signal?.aborted)
        opts.cache!.set(verifiedKey, verified);
      return verified;
    };
    const cachedVerified = verifiedKey ? opts.cache!.get(verifiedKey) : undefined;
    const hit = cachedVerified ?? (key ? opts.cache!.get(key) : undefined);
    if (hit) {
      ctx.log?.(`[${gate.name}] cached result for tree ${treeHash.slice(0, 10)}`);
      const run = { ...hit, cached: true };
      if (record(cachedVerified ? run : await verify(run))) return done();
      continue;
    }
    // The cheap step only serves fail-fast: without it, the full run says all it would.
    if (opts.failFast && gate.targeted && (targetIds.length > 0 || changed.length > 0) && (await cheapStep()))
      return done();
    const run = await runWithFlakeReruns(gate, ctx, {}, reruns, knownFailure);
    // A timeout or a tool that would not start may be transient: not cached.
    if (key && run.error === undefined && !ctx.signal?.aborted) opts.cache!.set(key, run);
    if (record(await verify(run))) return done();
  }
  return done();
}
