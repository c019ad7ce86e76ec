import type { GateRun } from "../core/types.js";
import type { Gate, GateContext } from "./gate.js";
import { runToolCommand, toolVersion } from "./run-tool.js";

/**
 * The lint gate: the profile's lint command (ruff, biome/eslint, go vet, clippy), one failing check per diagnostic.
 * Deterministic, so no flake re-runs; cheap, so it always lints the whole tree.
 */
export const lintGate: Gate = {
  name: "lint",
  configKey: "require_ruff_clean",
  requiredByDefault: true,
  reportsFailuresOnly: true,
  locationInId: true,
  applies: (ctx) => ctx.commands.lint !== undefined,
  run(ctx: GateContext): Promise<GateRun> {
    return runToolCommand(ctx, "lint", ctx.commands.lint!);
  },
  async fingerprint(ctx) {
    return JSON.stringify(["lint", ctx.commands.lint, await toolVersion(ctx, ctx.commands.lint!)]);
  },
};
