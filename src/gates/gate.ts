import type { RequirableGate } from "../config/required-gates.js";
import type { Config } from "../config/schema.js";
import type { Check, GateName, GateRun } from "../core/types.js";
import type { ToolchainMounts } from "../exec/toolchains.js";
import type { Workspace } from "../workspace/workspace.js";

/**
 * A profile's commands. The user can override every one in config.yaml (`commands:`). Python commands use
 * `python`, which the gate runner resolves to the environment's venv (its bin dir is put first on PATH).
 */
export interface ProfileCommands {
  test?: string;
  lint?: string;
  /** The formatting check the lint gate runs after `lint` (`ruff format --check …`). */
  format_check?: string;
  validate?: string;
  run?: string;
  format?: string;
  fix?: string[];
}

/** A failing check's text in, what the environment lacks for it out (undefined: the code's own failure). */
export type MissingDependencyJudge = (
  check: Pick<Check, "status" | "message" | "detail">,
) => string | undefined;

/**
 * What the gates need of a profile (the language plugins in src/profiles/ implement it; this layer never names
 * one): which gates it runs, its default commands, its commands' environment and what the jail must mount.
 */
export interface GateProfile {
  name: string;
  /** The gates this profile can run, in cascade order (cheapest first); each still decides `applies(ctx)`. */
  gates: readonly Gate[];
  /** The default commands for the repository at `repo` (the user's `commands:` go over them). */
  commands(repo?: string): ProfileCommands;
  /** The environment of every gate command on the tree `workdir` (before the jail's and the caller's). */
  gateEnv(input: GateEnvInput): Record<string, string>;
  /** Toolchains in HOME the jail mounts read-only, with the variables that point the tools at them. */
  toolchain?(opts: { scratch?: string }): ToolchainMounts;
  /** Tells failures the environment causes (a package not installed) from the code's, for `repo`. */
  missingDependencies?(repo: string): MissingDependencyJudge;
  /** The oracle's globs (src/policy/oracle.ts): what a fix may not change and what is put back before gating. */
  oracle: readonly string[];
  /** Its commands' `python` is the gates' venv (the tool check and issue discovery use that venv). */
  usesVenv: boolean;
}

export interface GateEnvInput {
  workdir: string;
  venv: string;
  outputDir: string;
  /** `<root>/python_packages`, when the environment has one. */
  pythonPackages?: string;
}

export interface GateContext {
  /** The tree under test (a sandbox or Master): `workspace`'s folder as given. */
  workdir: string;
  config: Config;
  /** The profile (src/profiles/) whose gates and commands judge the tree. */
  profile: GateProfile;
  /** Profile defaults with the user's overrides applied. */
  commands: ProfileCommands;
  /** Extra environment for every command (PATH with the venv first, PYTHONPATH to the sandbox's code, …). */
  env: Record<string, string>;
  /** `<root>/golden`: golden project configs and their data (read-only to candidates). */
  goldenDir: string;
  /** Where gate outputs go (junit xml, stories, golden run outputs), one folder per cycle. */
  outputDir: string;
  /** The tree under test: every command of a gate runs through its `exec` (jailed when isolation is on). */
  workspace: Workspace;
  timeoutMs: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /**
   * What the commands use from outside the tree and the venv, as a key (a node repository's installed packages):
   * part of every cache key, so results cached without them are not served once they are installed.
   */
  dependencies?: string;
  /** How the commands are isolated (`isolationFingerprint`): part of every cache key, like `dependencies`. */
  isolation?: string;
  /**
   * pytest-xdist's `-n` for the tests gate's full runs: set when Master's suite gave the same per-test results in
   * parallel as serially (src/gates/parallel-tests.ts). Part of the tests gate's cache key.
   */
  testWorkers?: string;
  /** Master's per-test coverage map for the targeted step (src/gates/coverage-map.ts), or why there is none. */
  testMap?: CoverageMap | { missing: string };
}

export interface GateRunOptions {
  /** Run only these check ids where the gate can (targeted tests first, the cascade's cheap step). */
  only?: string[];
  /** Changed files of the candidate, for selecting tests that touch them. */
  changedFiles?: string[];
  /** The candidate's unified diff against Master: its changed lines select tests by the coverage map. */
  diff?: string;
}

/**
 * What a gate says about itself, read by the configuration (`gates.required`, src/config/required-gates.ts) and the
 * verdict (src/gates/verdict.ts) instead of tables of gate names.
 */
export interface GateTraits extends RequirableGate {
  name: GateName;
  /** Its checks list only problems (lint findings, validation errors): a baseline failure absent from a full run is fixed. */
  reportsFailuresOnly?: boolean;
  /**
   * Its check ids carry a line number that any edit above it shifts (`F401:pkg/a.py:1:8`): a failure is the same one
   * across baseline and candidate when its errorType, file and message match, not its id.
   */
  locationInId?: boolean;
}

export interface Gate extends GateTraits {
  /** False when this gate has nothing to run for this context (no command configured, no golden configs). */
  applies(ctx: GateContext): boolean;
  run(ctx: GateContext, opts?: GateRunOptions): Promise<GateRun>;
  /**
   * Failing checks of this gate are re-run to tell flakes from real failures (tests, golden runs). Deterministic
   * gates (lint, validate) are not.
   */
  rerunnable?: boolean;
  /** Can run a subset of its checks by id (`only`): re-runs and the cascade's target step use it. */
  targeted?: boolean;
  /**
   * Given `changedFiles`, runs only what those files touch (and nothing when it cannot tell): the cascade runs
   * that before the full gate. Gates without it get only the target's id in the cheap step.
   */
  selectsByChangedFiles?: boolean;
  /**
   * What besides the tree decides this gate's result: its commands, tool versions, inputs outside the tree
   * (golden configs). Part of the cache key; a gate without it is never cached.
   */
  fingerprint?(ctx: GateContext): Promise<string>;
}

/** Master's per-test coverage map (built by src/gates/coverage-map.ts). */
export interface CoverageMap {
  /** Master's tree hash (`hashWorkTree`) the map was built on. */
  treeHash: string;
  command: string;
  builtMs: number;
  /** pytest node ids; `files[...].sets` hold indices into this. */
  tests: string[];
  /** Tree-relative `/` path → distinct test sets and, per line number, the index of its set. */
  files: Record<string, { sets: number[][]; lines: Record<string, number> }>;
}
