import { OdibiImproveError } from "../core/errors.js";
import { describeEnd, type RunResult, runProcess } from "../exec/run-process.js";

/**
 * git through the one process runner. No prompts, no optional locks (so that reading a repository — Sacred —
 * never rewrites its index), a fixed identity so commits work on machines with no git config.
 */
export const GIT_ENV: Record<string, string> = {
  GIT_TERMINAL_PROMPT: "0",
  GIT_OPTIONAL_LOCKS: "0",
  GIT_AUTHOR_NAME: "odibi-improve",
  GIT_AUTHOR_EMAIL: "odibi-improve@localhost",
  GIT_COMMITTER_NAME: "odibi-improve",
  GIT_COMMITTER_EMAIL: "odibi-improve@localhost",
  GIT_CONFIG_NOSYSTEM: "1",
  LC_ALL: "C",
};

export class GitError extends OdibiImproveError {}

/**
 * Options on every git call. A sandbox's `.git/config` is writable by candidate code: settings that make git run
 * programs (fsmonitor, hooks) are overridden so that our own git commands never execute what a candidate planted.
 */
const SAFE_GIT_OPTS = [
  "-c",
  "core.quotepath=off",
  "-c",
  "safe.directory=*",
  "-c",
  "core.fsmonitor=false",
  "-c",
  `core.hooksPath=${process.platform === "win32" ? "NUL" : "/dev/null"}`,
  "-c",
  "gc.auto=0",
];

export async function gitRaw(
  cwd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return runProcess("git", [...SAFE_GIT_OPTS, ...args], {
    cwd,
    env: GIT_ENV,
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 600_000,
  });
}

/** Run git and return stdout; throw GitError (with stderr) on failure. */
export async function git(
  cwd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  const r = await gitRaw(cwd, args, opts);
  if (r.spawnError)
    throw new GitError("git is not installed or not on PATH", {
      hint: "Install git (https://git-scm.com/downloads).",
    });
  if (r.exitCode !== 0) {
    throw new GitError(
      `git ${args.join(" ")} failed (${describeEnd(r)}) in ${cwd}: ${r.stderr.trim() || r.stdout.trim()}`,
    );
  }
  return r.stdout;
}

export async function isGitRepo(dir: string): Promise<boolean> {
  const r = await gitRaw(dir, ["rev-parse", "--is-inside-work-tree", "--show-toplevel"]);
  return r.exitCode === 0 && r.stdout.startsWith("true");
}

/** Top-level of the work tree containing dir (or undefined). */
export async function gitTopLevel(dir: string): Promise<string | undefined> {
  const r = await gitRaw(dir, ["rev-parse", "--show-toplevel"]);
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

export async function headCommit(repo: string): Promise<string> {
  return (await git(repo, ["rev-parse", "HEAD"])).trim();
}

export async function treeHash(repo: string, rev = "HEAD"): Promise<string> {
  return (await git(repo, ["rev-parse", `${rev}^{tree}`])).trim();
}

/** Porcelain status lines (untracked included). Read-only. */
export async function statusLines(repo: string): Promise<string[]> {
  const out = await git(repo, ["status", "--porcelain=v1", "--untracked-files=all"]);
  return out.split("\n").filter((l) => l.length > 0);
}

/**
 * The hash of the working tree as it is now (tracked + untracked, not ignored), without touching the repo's
 * index or objects: a temporary index file and `git write-tree` would write objects, so we use
 * `git hash-object` over a private index in a temp GIT_INDEX_FILE. Used for the gate cache.
 */
export async function workingTreeHash(repo: string, tmpIndex: string): Promise<string> {
  const env = { ...GIT_ENV, GIT_INDEX_FILE: tmpIndex };
  const run = (args: string[]) =>
    runProcess("git", [...SAFE_GIT_OPTS, ...args], { cwd: repo, env, timeoutMs: 600_000 });
  let r = await run(["read-tree", "HEAD"]);
  if (r.exitCode !== 0) throw new GitError(`git read-tree failed: ${r.stderr}`);
  r = await run(["add", "-A"]);
  if (r.exitCode !== 0) throw new GitError(`git add failed: ${r.stderr}`);
  r = await run(["write-tree"]);
  if (r.exitCode !== 0) throw new GitError(`git write-tree failed: ${r.stderr}`);
  return r.stdout.trim();
}
