import path from "node:path";
import type { Config } from "../config/schema.js";
import type { Layout } from "../environment/layout.js";
import { createJailedRunner, type IsolationMode, isolationFingerprint } from "../exec/jail.js";
import { type CommandRunner, runProcess } from "../exec/run-process.js";
import { processSecretNames } from "../llm/redact.js";
import { defaultVenvDir } from "../pyenv/python-env.js";
import { LocalWorkspace } from "../workspace/local-workspace.js";
import type { GateContext, GateProfile, ProfileCommands } from "./gate.js";

export interface GateContextInput {
  workdir: string;
  config: Config;
  /** The profile named by `config.profile` (src/profiles `profileOf`). */
  profile: GateProfile;
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
  /** `<root>/python_packages`, for the profile's `gateEnv` (python: on PYTHONPATH after the tree's `src/`). */
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
  const toolchain = input.profile.toolchain?.({ scratch: input.outputDir }) ?? { readOnly: [], env: {} };
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

/**
 * The context a gate run needs, from the configuration: the profile's commands with the user's overrides, the
 * profile's gate environment (venv first on PATH; for odibi also the tree's own code on PYTHONPATH) under the
 * jail's, time limit.
 */
export function makeGateContext(input: GateContextInput): GateContext {
  const venv = input.venv ?? defaultVenvDir();
  const jail = gateRunner(input, venv);
  const run = input.run ?? jail.run;
  const { profile } = input;
  return {
    workdir: input.workdir,
    config: input.config,
    profile,
    commands: resolveCommands(profile, input.config.commands, input.workdir),
    env: {
      ...profile.gateEnv({
        workdir: input.workdir,
        venv,
        outputDir: input.outputDir,
        ...(input.pythonPackages === undefined ? {} : { pythonPackages: input.pythonPackages }),
      }),
      ...jail.env,
      ...input.env,
    },
    goldenDir: input.goldenDir,
    outputDir: input.outputDir,
    workspace: new LocalWorkspace(input.workdir, run),
    isolation: isolationFingerprint(input.isolation?.mode ?? "none"),
    timeoutMs: input.config.gates.timeout_seconds * 1000,
    signal: input.signal,
    log: input.log,
    dependencies: input.dependencies,
  };
}

/** The profile's default commands for the tree at `repo`, with the user's overrides on top. */
export function resolveCommands(
  profile: GateProfile,
  overrides: ProfileCommands = {},
  repo?: string,
): ProfileCommands {
  const out: ProfileCommands = profile.commands(repo);
  for (const [k, v] of Object.entries(overrides))
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
