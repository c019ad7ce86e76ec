import type { Task } from "../core/types.js";
import { gitRaw } from "../environment/git.js";
import { discoveredIssueGone, issueOnBase } from "./candidate-checks.js";
import type { VerdictFacts } from "./decide.js";

/**
 * The facts candidate-checks.ts judges, read with git from committed trees only (never from the sandbox's work
 * tree, which the candidate's code could rewrite while the gates run).
 */

/** Of `paths` (repository-relative), those git ignores in `repo`, i.e. paths that can never be committed. */
export async function ignoredByGit(repo: string, paths: readonly string[]): Promise<string[]> {
  if (paths.length === 0) return [];
  const r = await gitRaw(repo, ["check-ignore", "-z", "--stdin"], { input: `${paths.join("\0")}\0` });
  // 0: some are ignored, 1: none; anything else is git failing, which must not pass for "nothing ignored".
  if (r.exitCode === 1) return [];
  if (r.exitCode !== 0) throw new Error(`git check-ignore failed in ${repo}: ${r.stderr.trim()}`);
  return r.stdout.split("\0").filter(Boolean);
}

/** A file's content at a commit, or undefined when it does not exist there. No textconv, no filters. */
async function blobAt(repo: string, rev: string, file: string): Promise<string | undefined> {
  const r = await gitRaw(repo, ["cat-file", "blob", `${rev}:${file}`]);
  return r.exitCode === 0 ? r.stdout : undefined;
}

/**
 * For a discovered-issue task: does the diff touch the issue's file, and is the issue gone on the candidate
 * (the discovery re-run on both commits' versions of the changed Python files)? Null for other tasks.
 */
export async function discoveredIssueFacts(
  repo: string,
  base: string,
  candidate: string,
  task: Task,
  files: readonly string[],
): Promise<VerdictFacts["discoveredIssue"]> {
  if (task.kind !== "discovered" || !task.file) return null;
  const read = async (rev: string) => {
    const out: Record<string, string | undefined> = {};
    for (const f of new Set([task.file!, ...files.filter((x) => x.endsWith(".py"))]))
      out[f] = await blobAt(repo, rev, f);
    return out;
  };
  const [before, after] = [await read(base), await read(candidate)];
  const issue = issueOnBase(task, before[task.file]);
  return {
    file: task.file,
    touched: files.includes(task.file),
    // An issue Master does not show any more cannot be shown gone by this candidate.
    gone: issue ? discoveredIssueGone(issue, before, after) : false,
  };
}
