import path from "node:path";
import { errorMessage, OdibiImproveError, SacredChanged, UsageError } from "../core/errors.js";
import { ImprovementEnvironment } from "../environment/environment.js";
import {
  classifySacredDifference,
  type Fingerprint,
  takeFingerprint,
  watchSacred,
} from "../environment/sacred.js";
import type { DepsOutcome } from "../environment/staged-install.js";
import { profileOf } from "../profiles/index.js";
import { defaultVenvDir } from "../pyenv/python-env.js";
import type { Output } from "./output.js";

/** What every command gets from the program: global options, output, errors. */
export interface CommandContext {
  root(): string | undefined;
  json(): boolean;
  output(): Output;
  usage(message: string, hint?: string): UsageError;
}

export function resolveRoot(root: string | undefined): string {
  const r = root ?? process.env.ODIBI_IMPROVE_ROOT;
  if (!r)
    throw new UsageError("no environment root given", "Pass --root <folder> or set ODIBI_IMPROVE_ROOT.");
  return path.resolve(r);
}

/**
 * Open the environment, run `fn`, and verify Sacred at the end: a change to its working tree or HEAD during the
 * command is a SacredChanged error, a change inside its `.git` only a warning (watchSacred). A change made to Sacred
 * between commands is reported and re-recorded: Master does not follow it (auto_reset_master is never automatic).
 */
export async function withEnvironment<T>(
  root: string | undefined,
  out: Output,
  fn: (env: ImprovementEnvironment) => Promise<T>,
  opts: { sacredSync?: boolean } = {},
): Promise<T> {
  const env = ImprovementEnvironment.open(resolveRoot(root));
  const recorded = env.recordedFingerprint();
  let before: Fingerprint = takeFingerprint(env.sacred);
  if (recorded && (recorded.digest !== before.digest || recorded.head !== before.head)) {
    if (!opts.sacredSync && classifySacredDifference(recorded, before).alarm.length > 0)
      out.warn(
        `Sacred (${env.sacred}) changed since it was last recorded; odibi-improve cannot tell who changed it. Master does not follow it; the new state is recorded.`,
      );
    before = env.recordSacred();
  }
  const watch = () =>
    watchSacred(before, env.sacred, { since: "this command started", warn: (m) => out.warn(m) });
  let result: T;
  try {
    result = await fn(env);
  } catch (err) {
    // A campaign that already stopped for a Sacred change said so; any other failure is checked too.
    if (!(err instanceof SacredChanged)) watch();
    throw err;
  }
  // `apply` writes objects and a branch into Sacred's `.git` on purpose (and records the fingerprint again): its
  // working tree and HEAD are still checked, a change inside `.git` is no news.
  watchSacred(before, env.sacred, {
    since: "this command started",
    warn: (m) => (opts.sacredSync ? undefined : out.warn(m)),
  });
  return result;
}

/**
 * The profile's tools in the gates' venv (python: pytest, ruff; made once, cheap after), then Master's third-party
 * packages under the root (node: `node_modules`, python: `python_packages`) before anything runs the code. A failure
 * is a warning (the gates then say what is missing).
 */
export async function repositoryDependencies(env: ImprovementEnvironment, out: Output): Promise<void> {
  const log = (l: string) => out.line(l);
  let r: DepsOutcome | undefined;
  try {
    const profile = profileOf(env.config.profile);
    await profile.ensureTools?.({ log });
    r = await profile.installDependencies?.(env, { venv: defaultVenvDir(), log });
  } catch (e) {
    const hint = e instanceof OdibiImproveError ? e.hint : undefined;
    r = { status: "failed", message: errorMessage(e), hint: hint ?? "Run `odibi-improve setup`." };
  }
  if (r?.status === "failed") out.warn(`${r.message}\n${r.hint}`);
}
