import path from "node:path";
import type { Config } from "../config/schema.js";
import { pythonGatePath } from "../environment/python-deps.js";
import { runProcess } from "../exec/run-process.js";
import { resolveCommands } from "../profiles/profiles.js";
import { defaultVenvDir } from "../pyenv/python-env.js";
import { buildGateEnv } from "./env.js";
import type { CommandRunner, GateContext } from "./gate.js";
import { odibiGateContext } from "./odibi/context.js";

export interface GateContextInput {
  workdir: string;
  config: Config;
  /** `<root>/golden`. */
  goldenDir: string;
  /** Folder for this run's reports and outputs. */
  outputDir: string;
  /** The venv whose `python` the commands use (default: the tool's own, see src/pyenv). */
  venv?: string;
  /** Extra environment for every command (over the gate defaults). */
  env?: Record<string, string>;
  run?: CommandRunner;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** See GateContext.dependencies. */
  dependencies?: string;
  /** `<root>/python_packages`: on PYTHONPATH for the python profile (with the tree's `src/`). */
  pythonPackages?: string;
}

function pythonPathEnv(input: GateContextInput): Record<string, string> {
  if (input.config.profile !== "python") return {};
  const entries = pythonGatePath(input.workdir, input.pythonPackages);
  if (entries.length === 0) return {};
  const inherited = process.env.PYTHONPATH;
  return { PYTHONPATH: [...entries, ...(inherited ? [inherited] : [])].join(path.delimiter) };
}

/**
 * The context a gate run needs, from the configuration: the profile's commands with the user's overrides, the
 * gate environment (venv first on PATH; for odibi also the tree's own code on PYTHONPATH), time limit.
 */
export function makeGateContext(input: GateContextInput): GateContext {
  const venv = input.venv ?? defaultVenvDir();
  if (input.config.profile === "odibi") {
    const ctx = odibiGateContext({ ...input, venv, outputDir: input.outputDir });
    return { ...ctx, env: { ...ctx.env, ...input.env }, dependencies: input.dependencies };
  }
  return {
    workdir: input.workdir,
    config: input.config,
    commands: resolveCommands(input.config.profile, input.config.commands, input.workdir),
    env: { ...buildGateEnv({ venv }), ...pythonPathEnv(input), ...input.env },
    goldenDir: input.goldenDir,
    outputDir: input.outputDir,
    run: input.run ?? runProcess,
    timeoutMs: input.config.gates.timeout_seconds * 1000,
    signal: input.signal,
    log: input.log,
    dependencies: input.dependencies,
  };
}
