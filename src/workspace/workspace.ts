import type { RunOptions, RunResult } from "../exec/run-process.js";

/** One entry of a listing. */
export interface WorkspaceEntry {
  /** Workspace-relative, `/`-separated. */
  path: string;
  /** `file` is anything that is neither a folder nor a symlink (whose size the listing shows). */
  kind: "file" | "dir" | "symlink";
  /** Bytes, for `file` entries. */
  size?: number;
}

export interface WorkspaceListing {
  /** Depth first, names sorted within a folder, at most `limit`. */
  entries: WorkspaceEntry[];
  /** Entries past the limit (not shown). */
  omitted: number;
}

export interface WorkspaceMatch {
  /** Workspace-relative, `/`-separated. */
  path: string;
  /** 1-based. */
  line: number;
  /** The line trimmed, at most `maxLineChars` characters. */
  text: string;
}

export interface WorkspaceSearch {
  /** In path order, at most `maxMatches`. */
  matches: WorkspaceMatch[];
  /** All matching lines, those not returned included. */
  total: number;
}

/** Options of `exec`: those of the process runner, `cwd` defaulting to the workspace's tree. */
export type WorkspaceExecOptions = Omit<RunOptions, "cwd"> & { cwd?: string };

/**
 * One tree under work (a sandbox, or the clone of Master the `gates` command checks) as the model's file tools and
 * the gates see it: read, write, list and search its files, and run commands on it. Every path is relative to the
 * tree; a path leading out of it, through a link or into `.git` is refused with WorkspacePathError, a file that
 * cannot be handled as text with WorkspaceFileError. The local implementation is LocalWorkspace (this machine's
 * file system, commands through the gates' runner); a remote worker implements the same interface.
 */
export interface Workspace {
  /** Where the tree is, as its commands and tracebacks name it (absolute; for LocalWorkspace its real path). */
  readonly root: string;
  /** The workspace-relative, `/`-separated form of a path (`.` for the root), or WorkspacePathError. */
  resolve(path: string): string;
  /** A text file's whole content (a directory, a large, binary or non-regular file is refused). */
  read(path: string): string;
  /** Replace a file's content (recorded for `undo`). */
  write(path: string, content: string): void;
  /** Write a new file, making its folders (recorded for `undo`); a path that exists is refused. */
  create(path: string, content: string): void;
  /** A folder's entries down to `depth` levels, tool caches, environments and VCS folders left out. */
  list(path: string, opts: { depth: number; limit: number }): WorkspaceListing;
  /** The lines matching `pattern` in a file or under a folder (links, binary and large files skipped). */
  search(pattern: RegExp, path: string, opts: { maxMatches: number; maxLineChars: number }): WorkspaceSearch;
  /** Files written since the last `undo` / `keep`, workspace-relative, sorted. */
  changedFiles(): string[];
  /** Put back every file written (and remove every folder created) since the last `undo` / `keep`. */
  undo(): void;
  /** Accept the writes so far: the next `undo` does not revert them. */
  keep(): void;
  /** Run a command on the tree, isolated as the gates are (jailed when they are). */
  exec(file: string, args: readonly string[], opts?: WorkspaceExecOptions): Promise<RunResult>;
}
