import type { Config } from "../../config/schema.js";
import type { CommandRunner } from "../../exec/run-process.js";
import { resolveCommands } from "../../gates/context.js";
import type { GateContext } from "../../gates/gate.js";
import { LocalWorkspace } from "../../workspace/local-workspace.js";
import { buildGateEnv } from "./gate-env.js";
import { odibiProfile } from "./profile.js";

export interface OdibiGateContextOptions {
  /** The tree under test (Master or a sandbox): its `odibi/` is what runs. */
  workdir: string;
  venv: string;
  config: Config;
  /** `<root>/golden`. */
  goldenDir: string;
  /** Per-cycle output folder (stories, run outputs, HOME/tmp of the gate commands). */
  outputDir: string;
  /** A folder shared across cycles for Python bytecode (see buildGateEnv). */
  pycacheDir?: string;
  run?: CommandRunner;
  timeoutMs?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/**
 * A GateContext for an odibi tree without a jail (benchmarks and tests): profile commands with the user's
 * overrides, env running that tree's code, bytecode optionally cached in `pycacheDir`.
 */
export function odibiGateContext(o: OdibiGateContextOptions): GateContext {
  return {
    workdir: o.workdir,
    config: o.config,
    profile: odibiProfile,
    commands: resolveCommands(odibiProfile, o.config.commands),
    env: buildGateEnv(o.workdir, o.venv, { outputDir: o.outputDir, pycacheDir: o.pycacheDir }),
    goldenDir: o.goldenDir,
    outputDir: o.outputDir,
    workspace: new LocalWorkspace(o.workdir, o.run),
    timeoutMs: o.timeoutMs ?? o.config.gates.timeout_seconds * 1000,
    signal: o.signal,
    log: o.log,
  };
}
