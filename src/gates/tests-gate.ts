import type { GateRun } from "../core/types.js";
import { selectByCoverage } from "./coverage-map.js";
import type { Gate, GateContext, GateRunOptions } from "./gate.js";
import { runToolCommand, toolOf, toolVersion } from "./run-tool.js";
import { isTestFile, selectTestsForChanges } from "./select-tests.js";

/** More tests than this from the coverage map run as their files (a command line of thousands of ids). */
const MAX_SELECTED_IDS = 1000;

/**
 * The targeted step's selection for the candidate's changes: with Master's coverage map (`ctx.testMap`) and the
 * diff, the tests that ran a changed line, plus the changed test files and, for changed files the map cannot
 * speak for (new ones, module-level changes), the import heuristic (`selectTestsForChanges`). Without a map,
 * the heuristic alone, and the log says why.
 */
function selectForChanges(
  ctx: GateContext,
  opts: GateRunOptions,
  tool: string,
): { ids: string[]; files: string[] } {
  const changed = opts.changedFiles ?? [];
  if (changed.length === 0) return { ids: [], files: [] };
  const map = ctx.testMap;
  if (tool !== "pytest" || map === undefined || "missing" in map || opts.diff === undefined) {
    // (no map asked for: the caller did not set one up; say nothing)
    const why =
      map && "missing" in map ? map.missing : map && opts.diff === undefined ? "no diff" : undefined;
    if (why && tool === "pytest") ctx.log?.(`[test plan] targeted tests by file names and imports: ${why}`);
    return { ids: [], files: selectTestsForChanges(ctx.workdir, changed, tool) };
  }
  const sel = selectByCoverage(map, opts.diff, isTestFile);
  const touchedTests = changed.filter((f) => isTestFile(f) && f.endsWith(".py"));
  const heuristic = sel.unmapped.length > 0 ? selectTestsForChanges(ctx.workdir, sel.unmapped, tool) : [];
  const files = [...new Set([...touchedTests, ...heuristic])];
  const ids = sel.tests.filter((t) => !files.includes(t.split("::")[0]!));
  ctx.log?.(
    `[test plan] targeted tests by Master's coverage map: ${ids.length} test(s) ran the changed lines` +
      (sel.unmapped.length ? `; by imports for ${sel.unmapped.join(", ")}` : ""),
  );
  if (ids.length <= MAX_SELECTED_IDS) return { ids, files };
  return { ids: [], files: [...new Set([...files, ...ids.map((t) => t.split("::")[0]!)])] };
}

/**
 * The tests gate: the profile's test command with structured results (pytest JUnit, go test -json, node --test /
 * vitest JUnit, cargo test). With `only` or `changedFiles` it runs just those tests (scope `targeted`); when
 * nothing is selected it runs nothing rather than the whole suite. Full runs use `ctx.testWorkers` (xdist).
 */
export const testsGate: Gate = {
  name: "tests",
  configKey: "require_pytest_pass",
  requiredByDefault: true,
  rerunnable: true,
  targeted: true,
  selectsByChangedFiles: true,
  applies: (ctx) => ctx.commands.test !== undefined,
  async run(ctx: GateContext, opts: GateRunOptions = {}): Promise<GateRun> {
    const command = ctx.commands.test!;
    const wantsSubset = opts.only !== undefined || opts.changedFiles !== undefined;
    if (!wantsSubset) {
      const workers = ctx.testWorkers ? { workers: ctx.testWorkers } : {};
      return { ...(await runToolCommand(ctx, "tests", command, workers)), scope: "full" };
    }
    const tool = toolOf(command);
    const selected = selectForChanges(ctx, opts, tool.tool);
    const only = [...new Set([...(opts.only ?? []), ...selected.ids])];
    const files = selected.files;
    if (!tool.selects || (only.length === 0 && files.length === 0))
      return { gate: "tests", command, checks: [], durationMs: 0, scope: "targeted" };
    return { ...(await runToolCommand(ctx, "tests", command, { only, files })), scope: "targeted" };
  },
  async fingerprint(ctx) {
    const workers = ctx.testWorkers ? [`-n ${ctx.testWorkers}`] : [];
    return JSON.stringify([
      "tests",
      ctx.commands.test,
      await toolVersion(ctx, ctx.commands.test!),
      ...workers,
    ]);
  },
};
