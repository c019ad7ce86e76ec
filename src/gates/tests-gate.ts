import type { GateRun } from "../core/types.js";
import type { Gate, GateContext, GateRunOptions } from "./gate.js";
import { runToolCommand, toolOf, toolVersion } from "./run-tool.js";
import { selectTestsForChanges } from "./select-tests.js";

/**
 * The tests gate: the profile's test command with structured results (pytest JUnit, go test -json, node --test /
 * vitest JUnit, cargo test). With `only` or `changedFiles` it runs just those tests (scope `targeted`); when
 * nothing is selected it runs nothing rather than the whole suite.
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
    if (!wantsSubset) return { ...(await runToolCommand(ctx, "tests", command)), scope: "full" };
    const tool = toolOf(command);
    const only = opts.only ?? [];
    const files = opts.changedFiles ? selectTestsForChanges(ctx.workdir, opts.changedFiles, tool.tool) : [];
    if (!tool.selects || (only.length === 0 && files.length === 0))
      return { gate: "tests", command, checks: [], durationMs: 0, scope: "targeted" };
    return { ...(await runToolCommand(ctx, "tests", command, { only, files })), scope: "targeted" };
  },
  async fingerprint(ctx) {
    return JSON.stringify(["tests", ctx.commands.test, await toolVersion(ctx, ctx.commands.test!)]);
  },
};
