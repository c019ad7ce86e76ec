import type { GateRun } from "../core/types.js";
import type { Gate, GateContext } from "./gate.js";
import { runToolCommand, toolVersion } from "./run-tool.js";

/**
 * The lint gate: the profile's lint command (ruff, biome/eslint, go vet, clippy), one failing check per diagnostic,
 * then its formatting check when it has one (`commands.format_check`, e.g. `ruff format --check`: one failing check
 * per file to reformat). Deterministic, so no flake re-runs; cheap, so it always lints the whole tree.
 */
export const lintGate: Gate = {
  name: "lint",
  configKey: "require_ruff_clean",
  requiredByDefault: true,
  reportsFailuresOnly: true,
  locationInId: true,
  applies: (ctx) => ctx.commands.lint !== undefined || ctx.commands.format_check !== undefined,
  async run(ctx: GateContext): Promise<GateRun> {
    const lines = [ctx.commands.lint, ctx.commands.format_check].filter((l): l is string => l !== undefined);
    const runs: GateRun[] = [];
    for (const line of lines) {
      if (ctx.signal?.aborted) break;
      runs.push(await runToolCommand(ctx, "lint", line));
    }
    const errors = runs.flatMap((r) => (r.error === undefined ? [] : [r.error]));
    return {
      gate: "lint",
      command: lines.join(" && "),
      checks: runs.flatMap((r) => r.checks),
      durationMs: runs.reduce((n, r) => n + r.durationMs, 0),
      ...(errors.length ? { error: errors.join("; ") } : {}),
    };
  },
  async fingerprint(ctx) {
    const lines = [ctx.commands.lint, ctx.commands.format_check].filter((l): l is string => l !== undefined);
    return JSON.stringify(["lint", lines, await Promise.all(lines.map((l) => toolVersion(ctx, l)))]);
  },
};
