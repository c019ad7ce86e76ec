import type { DepsEnv, DepsOutcome } from "../environment/staged-install.js";
import type { GateProfile } from "../gates/gate.js";
import type { DiscoveredIssue } from "./python/discover.js";

/**
 * A profile: what odibi-improve knows about one kind of repository, as one object (one folder per language under
 * src/profiles/). The layers below (src/gates, src/environment, src/exec) never name a profile: they get what they
 * need from this object (`GateProfile` for the gates) through parameters. Registered in `./index.ts`.
 */
/** A tool the profile's gates need, as `doctor` checks it: the version command and how to install it. */
export interface ToolProbe {
  name: string;
  /** The program, or `venv-python` for the gates' venv's python (its modules: `-m pytest`). */
  file: string;
  args: string[];
  install: string;
}

export interface Profile extends GateProfile {
  /** One line for `init --help` and docs: which tools it runs. */
  description: string;
  /** Whether the repository at `repo` is of this kind (read only); the registry asks profiles in its order. */
  detect(repo: string): boolean;
  /** The tools its default commands need in the gates' venv, made once (`init`, `gates`). */
  ensureTools?(opts: { log?: (line: string) => void }): Promise<unknown>;
  /**
   * The repository's third-party packages under the root, where Master and every sandbox find them (`init`,
   * `gates`, each campaign). Never throws for an install that fails: the outcome says so.
   */
  installDependencies?(
    env: DepsEnv,
    opts: { venv: string; log?: (line: string) => void; signal?: AbortSignal },
  ): Promise<DepsOutcome>;
  /**
   * Issues discovered in the code of `repo` (find-work's second source: Master's tree, read only), each with why it
   * is or is not work; none when absent.
   */
  discover?(repo: string, opts: { venv: string; signal?: AbortSignal }): Promise<DiscoveredIssue[]>;
  /** What `doctor` checks for this profile (beyond git, node, python and the jail, which every profile needs). */
  doctor?: ToolProbe[];
  /** What `init` does after the environment exists (odibi: its venv and golden projects); a line to report. */
  prepare?(
    env: { layout: { golden: string; master?: string; pythonPackages?: string } },
    opts: { venv?: string; log?: (line: string) => void },
  ): Promise<string | undefined>;
}
