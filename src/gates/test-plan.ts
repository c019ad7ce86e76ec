import type { GateResult, GateRun } from "../core/types.js";
import type { SacredGuard } from "../environment/sacred.js";
import { coverageMapFor } from "./coverage-map.js";
import type { GateContext } from "./gate.js";
import { decideParallelTests, type ParallelVerdict, XDIST_WORKERS } from "./parallel-tests.js";

export interface TestPlan {
  workers?: string;
  parallel: ParallelVerdict;
  map?: GateContext["testMap"];
}

/** Where the plans are kept, and the guard that keeps Sacred out of reach. */
export interface PlanStore {
  dir: string;
  guard: SacredGuard;
}

/**
 * Whether the tests gate runs Master's and its candidates' full suites with xdist, decided on Master's tree
 * (`ctx.workdir`: `decideParallelTests`), and logged. With `knownOnly`, undefined when the suite has not been
 * checked yet: the caller runs its serial baseline and asks again with it as `serial` (one run saved).
 */
export async function planParallel(
  ctx: GateContext,
  store: PlanStore,
  opts: { serial?: GateRun; knownOnly?: boolean } = {},
): Promise<TestPlan | undefined> {
  const parallel = await decideParallelTests(ctx, {
    setting: ctx.config.gates.parallel_tests,
    ...store,
    ...opts,
  });
  if (!parallel) return undefined;
  ctx.log?.(
    `[test plan] ${parallel.parallel ? `parallel (-n ${XDIST_WORKERS})` : "serial"}: ${parallel.reason}${parallel.cached ? " (decided before)" : ""}`,
  );
  return { parallel, ...(parallel.parallel ? { workers: XDIST_WORKERS } : {}) };
}

/** The serial full run of the tests gate in a result (the baseline's), for `planParallel`'s `serial`. */
export function serialTestsRun(result: GateResult): GateRun | undefined {
  return result.runs.find((r) => r.gate === "tests" && r.scope === "full" && r.error === undefined);
}

/**
 * Master's per-test coverage map for `treeHash` (built on `ctx.workdir` when missing, `coverageMapFor`) when
 * `gates.test_selection` is coverage, else why not; logged when missing.
 */
export async function planSelection(
  ctx: GateContext,
  store: PlanStore & { treeHash: string },
): Promise<NonNullable<GateContext["testMap"]>> {
  const map =
    ctx.config.gates.test_selection === "files"
      ? { missing: "gates.test_selection is files" }
      : await coverageMapFor(ctx, store);
  if ("missing" in map) ctx.log?.(`[test plan] no coverage map: ${map.missing}`);
  return map;
}

/** The plan on a gate context (Master's or a candidate's). */
export function applyTestPlan(ctx: GateContext, plan: TestPlan | undefined): GateContext {
  if (!plan) return ctx;
  if (plan.workers) ctx.testWorkers = plan.workers;
  if (plan.map) ctx.testMap = plan.map;
  return ctx;
}
