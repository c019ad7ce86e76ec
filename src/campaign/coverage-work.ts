import type { Task } from "../core/types.js";
import type { GateContext } from "../gates/gate.js";
import {
  type CoverageRow,
  coverageSummary,
  leastCoveredFirst,
  packageSource,
  testCoverage,
} from "../harness/coverage.js";
import { readIntrospection } from "../harness/write.js";
import { coverageSource, lineRanges } from "../profiles/python/coverage.js";

/** The coverage store's file name under `<root>/state/`. */
export const COVERAGE_STORE = "coverage.json";

/** At most this many coverage tasks are listed (the least covered). */
export const MAX_COVERAGE_TASKS = 30;
/** Parts smaller than this are not worth a test-adding task of their own. */
const MIN_STATEMENTS = 5;

/**
 * Coverage gaps as test-adding tasks (kind `coverage`, find-work's last tier): the modules, transformers and
 * patterns that are not fully covered by the tests and harnesses, least covered first. The target is the source
 * file; the detail names the uncovered lines. Pure.
 */
export function coverageTasks(
  summary: { measuredBy: string; modules: readonly CoverageRow[]; subjects: readonly CoverageRow[] },
  limit = MAX_COVERAGE_TASKS,
): Task[] {
  const rows = [...summary.subjects, ...summary.modules].filter(
    (r) => r.percent < 100 && r.statements >= MIN_STATEMENTS,
  );
  return leastCoveredFirst(rows)
    .slice(0, limit)
    .map((r) => coverageTask(r, summary.measuredBy));
}

export function coverageTask(r: CoverageRow, measuredBy: string): Task {
  const what = r.kind === "module" ? r.file : `${r.kind} ${r.name} (${r.file})`;
  const counts = `${r.covered}/${r.statements} lines, ${r.coveredBranches}/${r.branches} branches`;
  const detail = [
    `Coverage of ${what}: ${r.percent}% (${counts}; measured on Master by ${measuredBy}).`,
    ...(r.regions ? [`Its code: ${r.regions.join(", ")} in ${r.file}.`] : []),
    `Lines no test or harness runs: ${lineRanges(r.missing) || "none (branches only)"}.`,
    "Add a new test file that exercises them and asserts what the code must do (existing tests stay as they are).",
  ].join("\n");
  return {
    kind: "coverage",
    target: r.file,
    title: `coverage gap: ${what} at ${r.percent}% (${counts})`,
    signature: `coverage:${r.kind}:${r.kind === "module" ? r.file : r.name}`,
    file: r.file,
    ...(r.missing.length ? { line: r.missing[0] } : {}),
    detail: detail.slice(0, 4000),
  };
}

/**
 * The coverage tier of a cycle, on the sandbox (Master's tree before any approach ran): the tests' coverage of the
 * package (odibi: its `odibi/` package; python: its top-level packages), cached in `storeFile` by Master's tree hash
 * (so it is measured again only after a promotion changed Master), with the last `harness run --coverage` merged in,
 * as tasks. None when the profile's tests are not pytest or the tree has no package.
 */
export async function measureCoverageWork(
  ctx: GateContext,
  o: { storeFile: string; treeHash: string; goldenDir: string },
): Promise<{ tasks: Task[]; summary: ReturnType<typeof coverageSummary> } | null> {
  if (!ctx.profile.usesVenv || !/\bpytest\b/.test(ctx.commands.test ?? "")) return null;
  const source = coverageSourceOf(ctx);
  if (source.length === 0) return null;
  const store = await testCoverage(ctx, o.storeFile, o.treeHash, source);
  const summary = coverageSummary(store, readIntrospection(o.goldenDir));
  return { tasks: coverageTasks(summary), summary };
}

/** What coverage measures on a tree: odibi's package for the odibi profile, else the tree's top-level packages. */
export function coverageSourceOf(ctx: Pick<GateContext, "profile" | "workdir">): string[] {
  return ctx.profile.name === "odibi" ? packageSource(ctx.workdir) : coverageSource(ctx.workdir);
}
