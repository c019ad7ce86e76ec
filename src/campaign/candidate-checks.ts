import path from "node:path";
import type { Task } from "../core/types.js";
import { isCollectedTestFile, type PolicyRule } from "../policy/index.js";
import { type DiscoveredIssue, discoverInPython } from "../profiles/python/discover.js";
import type { Decision } from "./decide.js";

/**
 * Pure judgements about a candidate that are not gate results: paths git ignores, whether a discovered issue is
 * really gone, and which changed files have nothing to do with the task. Facts in (file lists and contents, read
 * from git by candidate-facts.ts), decision out.
 */

/**
 * A path git ignores can never be committed, so a candidate that wrote one cannot be what the gates judged: it is
 * rejected under the policy rule `ignored-path` (and only that candidate: the campaign goes on).
 */
export function rejectIgnoredPaths(ignored: readonly string[]): Decision | null {
  if (ignored.length === 0) return null;
  const rule: PolicyRule = "ignored-path";
  const shown = ignored.slice(0, 5).map((f) => `policy:${rule}:${f}`);
  const more = ignored.length > 5 ? ` and ${ignored.length - 5} more` : "";
  return {
    action: "rejected",
    gate: "policy",
    reason: `policy: [ignored-path] the candidate wrote path(s) git ignores, which can never reach Master: ${shown.join(", ")}${more}`,
  };
}

/** The issue's kind and function, found again on Master's side of its file by its signature. */
export function issueOnBase(task: Task, baseContent: string | undefined): DiscoveredIssue | undefined {
  if (task.kind !== "discovered" || !task.file || baseContent === undefined) return undefined;
  return discoverInPython(task.file, baseContent).find((d) => d.signature === task.signature);
}

/**
 * Is the discovered issue gone on the candidate? The scan is re-run on both sides of every changed Python file.
 * Gone means: fewer issues of its kind in its function (its file when it has none) on the candidate than on
 * Master, and fewer of its kind over all changed files, so that rewording it or moving it elsewhere does not count.
 * A deleted issue file does not count either: an issue is fixed in its file.
 */
export function discoveredIssueGone(
  issue: DiscoveredIssue,
  base: Readonly<Record<string, string | undefined>>,
  candidate: Readonly<Record<string, string | undefined>>,
): boolean {
  if (candidate[issue.file] === undefined) return false;
  const ofKind = (side: Readonly<Record<string, string | undefined>>, file: string) =>
    side[file] === undefined ? [] : discoverInPython(file, side[file]!).filter((d) => d.kind === issue.kind);
  const inPlace = (side: Readonly<Record<string, string | undefined>>) =>
    ofKind(side, issue.file).filter((d) => d.function === issue.function).length;
  const files = [...new Set([...Object.keys(base), ...Object.keys(candidate)])].filter((f) =>
    f.endsWith(".py"),
  );
  const total = (side: Readonly<Record<string, string | undefined>>) =>
    files.reduce((n, f) => n + ofKind(side, f).length, 0);
  return inPlace(candidate) < inPlace(base) && total(candidate) < total(base);
}

/** Repository-relative paths the task names: its file, and any path in its title or detail (tracebacks). */
function namedPaths(task: Task, files: readonly string[]): Set<string> {
  const text = `${task.title}\n${task.detail ?? ""}\n${task.target}`;
  return new Set([...(task.file ? [task.file] : []), ...files.filter((f) => text.includes(f))]);
}

/**
 * Changed files unrelated to the task, for the cycle report (a flag for the reviewer, not a rejection). A file is
 * related when the task names it (its file; a path in its message or traceback) or when it lies in the folder of
 * a named file. A task without a file names nothing to compare with: no flags. A test-adding task's test files are
 * never flagged.
 */
export function unrelatedFiles(task: Task, files: readonly string[]): string[] {
  if (!task.file) return [];
  // A test-adding task's new test files are what it asks for.
  if (task.kind === "coverage") files = files.filter((f) => !isCollectedTestFile(f));
  const named = namedPaths(task, files);
  const folders = new Set([...named].map((f) => path.posix.dirname(f)));
  return files.filter((f) => !named.has(f) && !folders.has(path.posix.dirname(f)));
}
