/**
 * Typed errors. Each carries the exit code the CLI uses and, where possible, what the user must do.
 * Exit codes (README "Exit codes"): 0 done, 1 checks failed (a negative answer: failing gates, not promotable, a
 * required tool missing), 2 usage/config error (bad input), 3 stopped by a limit, 4 the tool failed (a crash, a
 * missing tool, git or Sacred trouble): a tool error is never taken for failing checks.
 */
export const ExitCode = {
  ok: 0,
  checksFailed: 1,
  usage: 2,
  limit: 3,
  error: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class OdibiImproveError extends Error {
  readonly exitCode: ExitCode;
  /** What the user can do about it; printed under the message. */
  readonly hint?: string;
  constructor(message: string, opts: { exitCode?: ExitCode; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode ?? ExitCode.error;
    this.hint = opts.hint;
  }
}

/** Bad command-line usage or bad arguments. */
export class UsageError extends OdibiImproveError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.usage, hint });
  }
}

export interface ConfigIssue {
  file: string;
  line?: number;
  column?: number;
  path?: string;
  message: string;
}

/** A configuration file that cannot be read, parsed or validated. Names file, line and column. */
export class ConfigError extends OdibiImproveError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], hint?: string) {
    super(issues.map(formatConfigIssue).join("\n"), { exitCode: ExitCode.usage, hint });
    this.issues = issues;
  }
}

export function formatConfigIssue(i: ConfigIssue): string {
  const where = i.line === undefined ? i.file : `${i.file}:${i.line}:${i.column ?? 1}`;
  return `${where}: ${i.path ? `${i.path}: ` : ""}${i.message}`;
}

/** Something named (a snapshot, a sandbox, an environment) does not exist. */
export class NotFoundError extends OdibiImproveError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.usage, hint });
  }
}

/** An attempted write inside Sacred, or Sacred's fingerprint changed. Always loud. */
export class SacredViolation extends OdibiImproveError {
  constructor(message: string) {
    super(message, {
      exitCode: ExitCode.error,
      hint: "Sacred (your source repository) must never be written. Nothing was written by this call; report this as a bug.",
    });
  }
}

/**
 * Sacred's working tree, tracked content or HEAD changed while a command ran. The tool only reads Sacred, but it
 * cannot tell which program made the change, so it stops rather than guess.
 */
export class SacredChanged extends OdibiImproveError {
  constructor(message: string, hint: string) {
    super(message, { exitCode: ExitCode.error, hint });
  }
}

/** A required external tool is not installed. */
export class MissingTool extends OdibiImproveError {
  readonly tool: string;
  /** `message` replaces the default "<tool> is not installed or not on PATH" when the tool is there but unusable. */
  constructor(tool: string, install: string, message?: string) {
    super(message ?? `${tool} is not installed or not on PATH`, {
      exitCode: ExitCode.error,
      hint: install,
    });
    this.tool = tool;
  }
}

/** A state in the environment that forbids the operation (e.g. Master has uncommitted changes). */
export class EnvironmentStateError extends OdibiImproveError {}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Discovery could not tell which discovered issues are work (the venv's Python did not run or answer). */
export class DiscoveryError extends OdibiImproveError {
  constructor(message: string) {
    super(message, {
      hint: "check that the venv's python runs (`odibi-improve doctor`); the discovery script needs Python 3.8+",
    });
  }
}
