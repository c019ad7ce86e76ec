/**
 * The policy gate's vocabulary. Rules are pure: a parsed diff (+ file contents through readers) in, violations out.
 */

/** Stable rule names: they appear in check ids, reports and memory (a rejection is recorded with its rule). */
export const POLICY_RULES = [
  "test-deleted",
  "test-skipped",
  "assert-weakened",
  "collection-narrowed",
  "protected-path",
  "forbidden-connection",
  "new-feature",
  "size-limit",
  "binary-file",
  "outside-repo",
  "unsafe-git-path",
  "oracle-modified",
  "suppression-added",
  "import-path-changed",
  // Only for a test-adding task (kind `coverage`): nothing but new test files.
  "tests-only",
  // Judged before a diff exists (campaign/candidate-checks.ts): git cannot stage a path it ignores.
  "ignored-path",
] as const;
export type PolicyRule = (typeof POLICY_RULES)[number];

export interface PolicyViolation {
  rule: PolicyRule;
  /** Repo-relative path (posix), or a parenthesised word for the diff as a whole: `(files)`, `(lines)`. */
  file: string;
  /** Line in the new file (or the old one for removed lines); 0 when the whole file or diff is meant. */
  line: number;
  /** What broke the rule, in words. */
  message: string;
  /** The offending lines as they appear in the diff (`+…` / `-…`), capped. */
  lines: string[];
}

/** One added or removed line with its line number (new side for `+`, old side for `-`). */
export interface DiffLine {
  line: number;
  text: string;
}

export interface DiffHunk {
  added: DiffLine[];
  removed: DiffLine[];
}

export type ChangeStatus = "added" | "deleted" | "modified" | "renamed";

export interface ChangedFile {
  /** The path after the change (for a deletion: the deleted path). Posix, repo-relative, no a/ b/ prefix. */
  path: string;
  /** The path before the change (differs from `path` for renames). */
  oldPath: string;
  status: ChangeStatus;
  binary: boolean;
  oldMode?: string;
  newMode?: string;
  hunks: DiffHunk[];
  added: DiffLine[];
  removed: DiffLine[];
}

/**
 * Synchronous access to whole files so rules stay pure: the base (Master) content and the candidate's content.
 * `undefined` = the file does not exist on that side (or was not loaded: rules then fall back to the diff alone).
 */
export interface FileReaders {
  base(path: string): string | undefined;
  current(path: string): string | undefined;
  /** Every file in the base tree (posix, repo-relative), when known: what a new module could shadow. */
  baseFiles?: readonly string[];
}

/** The policy settings (config `policy`) the rules read. */
export interface PolicySettings {
  protected_paths: string[];
  forbidden_connections: string[];
  allow_new_features: boolean;
  max_files_changed: number;
  max_lines_changed: number;
}

export interface RuleInput {
  files: ChangedFile[];
  settings: PolicySettings;
  readers?: FileReaders;
  /** The oracle's globs (the profile's `oracle`, src/profiles/); default: every profile's. */
  oracle?: readonly string[];
  /**
   * A test-adding task (kind `coverage`): the candidate may only add new test files (`tests-only`); those new files
   * are not oracle changes, every other oracle file stays frozen.
   */
  addTestsOnly?: boolean;
  /**
   * A new-feature task (`allow_new_features`, src/campaign/usage-work.ts), whose candidate brings its own tests: new
   * test files are allowed; existing ones stay Master's.
   */
  newTestsAllowed?: boolean;
}

/** How a diff is judged beyond the configuration: the task's kind. */
export interface PolicyOptions {
  /** See RuleInput.addTestsOnly. */
  addTestsOnly?: boolean;
  /** See RuleInput.newTestsAllowed. */
  newTestsAllowed?: boolean;
}

export type PolicyRuleFn = (input: RuleInput) => PolicyViolation[];
