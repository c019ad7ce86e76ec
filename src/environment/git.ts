import os from "node:os";
import path from "node:path";
import { OdibiImproveError } from "../core/errors.js";
import { describeEnd, type RunResult, runProcess } from "../exec/run-process.js";

/**
 * git through the one process runner. No prompts, no optional locks (so that reading a repository — Sacred —
 * never rewrites its index), a fixed identity so commits work on machines with no git config. No system or global
 * configuration or attributes: the only configuration git reads is the repository's own `.git/config` (for a
 * sandbox, written by us and mounted read-only in the jail) and the `-c` options below. Variables that would point
 * git elsewhere (another repository, index, config, external diff) are removed from the inherited environment.
 */
export const GIT_ENV: Record<string, string | undefined> = {
  GIT_TERMINAL_PROMPT: "0",
  GIT_OPTIONAL_LOCKS: "0",
  GIT_AUTHOR_NAME: "odibi-improve",
  GIT_AUTHOR_EMAIL: "odibi-improve@localhost",
  GIT_COMMITTER_NAME: "odibi-improve",
  GIT_COMMITTER_EMAIL: "odibi-improve@localhost",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: os.devNull,
  GIT_ATTR_NOSYSTEM: "1",
  LC_ALL: "C",
  GIT_DIR: undefined,
  GIT_WORK_TREE: undefined,
  GIT_INDEX_FILE: undefined,
  GIT_OBJECT_DIRECTORY: undefined,
  GIT_ALTERNATE_OBJECT_DIRECTORIES: undefined,
  GIT_COMMON_DIR: undefined,
  GIT_CONFIG: undefined,
  GIT_CONFIG_PARAMETERS: undefined,
  GIT_CONFIG_COUNT: undefined,
  GIT_EXTERNAL_DIFF: undefined,
  GIT_EXEC_PATH: undefined,
  GIT_TEMPLATE_DIR: undefined,
  GIT_SSH: undefined,
  GIT_SSH_COMMAND: undefined,
  GIT_ASKPASS: undefined,
  GIT_PAGER: undefined,
  GIT_EDITOR: undefined,
};

export class GitError extends OdibiImproveError {}

/** Known git failures, in words, with what to do (`{repo}` is the repository's path). */
const GIT_FAILURES: Array<{ re: RegExp; what: string; todo: string }> = [
  {
    re: /dubious ownership|safe\.directory/i,
    what: "the repository belongs to another user, and git refuses to read it (dubious ownership)",
    todo: "If you trust it, run `git config --global --add safe.directory {repo}`, or run as the repository's owner.",
  },
  {
    re: /shallow/i,
    what: "the repository is a shallow clone (part of its history is missing)",
    todo: "In the repository, run `git fetch --unshallow`, or pass a full clone as --source.",
  },
  {
    re: /promisor|partial clone|lazy fetch|--filter/i,
    what: "the repository is a partial clone (some objects were never downloaded)",
    todo: "In the repository, run `git fetch --refetch` (git 2.36+) with network access, or pass a full clone (`git clone` without --filter) as --source.",
  },
  {
    re: /unable to read [0-9a-f]{7,}|missing (?:blob|tree|commit)|bad object|repository corruption|did not receive expected object|invalid index-pack|could not read [0-9a-f]{7,}|loose object .* is corrupt/i,
    what: "the repository is missing objects or has damaged ones (an incomplete copy, or a damaged .git): git cannot read all of its history",
    todo: "In the repository, run `git fsck` to see what is missing, then `git fetch --refetch origin` or make a fresh clone and pass it as --source.",
  },
  {
    re: /not a git repository/i,
    what: "the folder is not (or is no longer) a git repository",
    todo: "Check the path; a plain folder is taken as it is, but a `.git` that is not a repository is not.",
  },
  {
    re: /index\.lock|\.lock': File exists/i,
    what: "another git command is running in the repository, or one crashed and left its lock file",
    todo: "Wait for it to finish; if none is running, remove the `.lock` file git names.",
  },
  {
    re: /No space left on device/i,
    what: "the disk is full",
    todo: "Free some space, then run the command again.",
  },
];

/** A git failure's output in words and what to do about it; undefined when it is not one of the known ones. */
export function explainGitFailure(output: string, repo: string): { what: string; todo: string } | undefined {
  const hit = GIT_FAILURES.find((f) => f.re.test(output));
  return hit && { what: hit.what, todo: hit.todo.replaceAll("{repo}", repo) };
}

/**
 * Options on every git call (they reach git's own child processes too, through GIT_CONFIG_PARAMETERS). A candidate
 * writes the work tree and the jail's code may have planted anything in it: nothing git reads from there may make
 * it run a program. Hooks, fsmonitor, external diff and signing are off; submodules (a nested repository has its
 * own config, whose filters a recursive status or diff would run) are never looked into; no transport but local
 * paths (our clones and fetches between Master and sandboxes). Filter, textconv and merge drivers cannot be turned
 * off generically: none is defined in any config git reads, and `findUnsafeGitPaths` rejects a candidate's
 * attributes naming one. `core.symlinks` keeps git's default (false on Windows: a link is checked out as a file).
 */
const SAFE_GIT_OPTS = [
  ...["core.quotepath=off", "safe.directory=*", "core.fsmonitor=false", "core.untrackedCache=false"],
  `core.hooksPath=${os.devNull}`,
  `core.attributesFile=${os.devNull}`,
  ...["core.protectNTFS=true", "core.protectHFS=true", "diff.external=", "diff.ignoreSubmodules=all"],
  ...["submodule.recurse=false", "status.submoduleSummary=false", "fetch.recurseSubmodules=false"],
  ...["protocol.allow=never", "protocol.file.allow=always", "commit.gpgSign=false", "tag.gpgSign=false"],
  "gc.auto=0",
  // Git for Windows users often rely on this from their (now unread) global config; deep sandboxes need it.
  "core.longpaths=true",
].flatMap((o) => ["-c", o]);

/**
 * The environment of one git call in `cwd`: git looks for the repository in `cwd` itself and never in a folder
 * above (a sandbox whose `.git` is gone must fail, not be taken for the repository around the environment root).
 */
function gitEnvFor(cwd: string, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return { ...GIT_ENV, GIT_CEILING_DIRECTORIES: path.dirname(path.resolve(cwd)), ...extra };
}

export async function gitRaw(
  cwd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return runProcess("git", [...SAFE_GIT_OPTS, ...args], {
    cwd,
    env: gitEnvFor(cwd),
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
  const env = gitEnvFor(repo, { GIT_INDEX_FILE: tmpIndex });
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
