import path from "node:path";
import type { Config } from "../config/schema.js";
import type { Layout } from "../environment/layout.js";
import { pythonGatePath } from "../environment/python-deps.js";
import { createJailedRunner, type IsolationMode, isolationFingerprint } from "../exec/jail.js";
import { type CommandRunner, runProcess } from "../exec/run-process.js";
import { toolchainMounts } from "../exec/toolchains.js";
import { processSecretNames } from "../llm/redact.js";
import { resolveCommands } from "../profiles/profiles.js";
import { defaultVenvDir } from "../pyenv/python-env.js";
import { LocalWorkspace } from "../workspace/local-workspace.js";
import { buildGateEnv } from "./env.js";
import type { GateContext } from "./gate.js";
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
  /**
   * How the commands run: jailed (`bwrap`) or as they are (`none`, the default). Campaigns and the `gates` command
   * pass the same, so a tree is judged the same way by both.
   */
  isolation?: GateIsolation;
  /** Runs the commands instead of the isolation's runner (tests that count or fake commands). */
  run?: CommandRunner;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** See GateContext.dependencies. */
  dependencies?: string;
  /** `<root>/python_packages`: on PYTHONPATH for the python profile (with the tree's `src/`). */
  pythonPackages?: string;
}

export interface GateIsolation {
  mode: IsolationMode;
  /** Never visible in the jail (the jail refuses to start rather than mount it). */
  sacred: string;
  /** Read-only in the jail besides golden, the venv and python packages: node_modules, the bytecode cache. */
  readOnly?: string[];
}

/** The isolation of an environment's gates, the same for a campaign and the `gates` command. */
export function gateIsolation(env: { sacred: string; layout: Layout }, mode: IsolationMode): GateIsolation {
  return {
    mode,
    sacred: env.sacred,
    readOnly: [env.layout.nodeModules, path.join(env.layout.state, "pycache")],
  };
}

/**
 * The runner and extra environment for the commands. Unjailed, they run as they are, without the secret variables
 * of this process's environment. Jailed, the tree is writable, the output folder too, golden,
 * the venv, python packages, `readOnly` and the profile's toolchains in HOME (rustup, Go's module cache, used
 * offline) are read-only, and Sacred is refused.
 */
function gateRunner(
  input: GateContextInput,
  venv: string,
): { run: CommandRunner; env: Record<string, string> } {
  const iso = input.isolation;
  if (iso?.mode !== "bwrap") {
    // Unjailed, commands inherit this process's environment: all but its secrets.
    const unset = Object.fromEntries(processSecretNames().map((n) => [n, undefined]));
    const run: CommandRunner = (file, args, opts) =>
      runProcess(file, args, { ...opts, env: { ...unset, ...opts.env } });
    return { run, env: {} };
  }
  const toolchain = toolchainMounts(input.config.profile, { scratch: input.outputDir });
  const run = createJailedRunner({
    mode: "bwrap",
    sandbox: input.workdir,
    // (paths that do not exist are left out by the jail)
    readOnly: [
      input.goldenDir,
      venv,
      ...(input.pythonPackages ? [input.pythonPackages] : []),
      ...(iso.readOnly ?? []),
      ...toolchain.readOnly,
    ],
    readWrite: [input.outputDir],
    hide: [iso.sacred],
  });
  return { run, env: toolchain.env };
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
  const jail = gateRunner(input, venv);
  const run = input.run ?? jail.run;
  const isolation = isolationFingerprint(input.isolation?.mode ?? "none");
  if (input.config.profile === "odibi") {
    const ctx = odibiGateContext({ ...input, venv, outputDir: input.outputDir, run });
    return {
      ...ctx,
      env: { ...ctx.env, ...jail.env, ...input.env },
      dependencies: input.dependencies,
      isolation,
    };
  }
  return {
    workdir: input.workdir,
    config: input.config,
    commands: resolveCommands(input.config.profile, input.config.commands, input.workdir),
    env: { ...buildGateEnv({ venv }), ...pythonPathEnv(input), ...jail.env, ...input.env },
    goldenDir: input.goldenDir,
    outputDir: input.outputDir,
    workspace: new LocalWorkspace(input.workdir, run),
    isolation,
    timeoutMs: input.config.gates.timeout_seconds * 1000,
    signal: input.signal,
    log: input.log,
    dependencies: input.dependencies,
  };
}
