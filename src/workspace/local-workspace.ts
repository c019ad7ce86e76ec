import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { removeInside, restoreInside, UnsafePathError, writeInside } from "../environment/fs-safe.js";
import { readRegularFile } from "../exec/read-regular-file.js";
import { type CommandRunner, type RunResult, runProcess } from "../exec/run-process.js";
import { WorkspaceFileError } from "./errors.js";
import { resolveInSandbox } from "./local-path.js";
import type {
  Workspace,
  WorkspaceEntry,
  WorkspaceExecOptions,
  WorkspaceListing,
  WorkspaceSearch,
} from "./workspace.js";

/** Folders no listing or search walks into: tool caches, environments, VCS metadata. */
const SKIP_DIRS = new Set([
  ".git",
  "node_modules",
  ".venv",
  "venv",
  "__pycache__",
  ".pytest_cache",
  ".ruff_cache",
  ".mypy_cache",
  "dist",
  "build",
]);
const MAX_FILE_BYTES = 1024 * 1024;
const MAX_SEARCHED_LINE = 2000;

const posix = (rel: string) => rel.split(path.sep).join("/");

/**
 * A Workspace on this machine's file system. Treats the tree as hostile (the gates ran its code): every path is
 * resolved inside the tree without following a link out of it, `.git` is refused in any spelling, only regular text
 * files up to 1 MiB are read, and writes and undo never follow a link (src/environment/fs-safe.ts). Commands run
 * through `run`, the gates' runner (jailed when the gates are), in the tree unless told otherwise.
 */
export class LocalWorkspace implements Workspace {
  private readonly given: string;
  private realRoot?: string;
  private readonly run: CommandRunner;
  /** Original content (undefined = did not exist) of every file written, to undo an attempt. */
  private readonly originals = new Map<string, string | undefined>();
  /** Folders `create` made (the topmost new one of each call), removed by undo. */
  private readonly createdDirs: string[] = [];

  /** `run` defaults to running commands as they are (no jail): the gate context passes its runner. */
  constructor(root: string, run: CommandRunner = runProcess) {
    this.given = path.resolve(root);
    this.run = run;
  }

  /** The tree's real path, resolved at the first use (making a gate context does not touch the tree). */
  get root(): string {
    this.realRoot ??= realpathSync(this.given);
    return this.realRoot;
  }

  private locate(p: string): { abs: string; rel: string } {
    return resolveInSandbox(this.root, p);
  }

  resolve(p: string): string {
    return this.locate(p).rel;
  }

  changedFiles(): string[] {
    return [...this.originals.keys()].map((a) => posix(path.relative(this.root, a))).sort();
  }

  /**
   * The gates ran the candidate's code since the writes, which may have replaced any of these paths (or a folder on
   * the way) by a link to anywhere: nothing here follows a link (a link is removed and the file written anew).
   */
  undo(): void {
    for (const [abs, content] of this.originals) restoreInside(this.root, abs, content);
    for (const dir of this.createdDirs.reverse()) removeInside(this.root, dir);
    this.originals.clear();
    this.createdDirs.length = 0;
  }

  keep(): void {
    this.originals.clear();
    this.createdDirs.length = 0;
  }

  private readText(abs: string, rel: string): string {
    let st: import("node:fs").Stats;
    try {
      st = statSync(abs);
    } catch {
      throw new WorkspaceFileError(
        `${rel} does not exist. Use list_dir or search_text to find the right path.`,
      );
    }
    if (st.isDirectory()) throw new WorkspaceFileError(`${rel} is a directory; use list_dir on it.`);
    if (st.size > MAX_FILE_BYTES)
      throw new WorkspaceFileError(`${rel} is too large to handle (${st.size} bytes).`);
    // Only a regular file: a FIFO the model's code made would block the read and the whole campaign.
    const read = readRegularFile(abs, MAX_FILE_BYTES);
    if (read.kind !== "text")
      throw new WorkspaceFileError(`${rel} cannot be read: ${read.kind === "refused" ? read.why : "gone"}.`);
    const text = read.text;
    if (text.includes("\0")) throw new WorkspaceFileError(`${rel} is a binary file.`);
    return text;
  }

  read(p: string): string {
    const { abs, rel } = this.locate(p);
    return this.readText(abs, rel);
  }

  private writeAt(abs: string, content: string): void {
    if (!this.originals.has(abs)) {
      const st = lstatSync(abs, { throwIfNoEntry: false });
      this.originals.set(abs, st?.isFile() ? readFileSync(abs, "utf8") : undefined);
    }
    try {
      writeInside(this.root, abs, content);
    } catch (e) {
      if (e instanceof UnsafePathError)
        throw new WorkspaceFileError(`${e.message}. Write regular files only.`);
      throw e;
    }
  }

  write(p: string, content: string): void {
    this.writeAt(this.locate(p).abs, content);
  }

  create(p: string, content: string): void {
    const { abs, rel } = this.locate(p);
    if (existsSync(abs))
      throw new WorkspaceFileError(`${rel} already exists: change it with replace_in_file.`);
    const firstNew = mkdirSync(path.dirname(abs), { recursive: true });
    if (firstNew) this.createdDirs.push(firstNew);
    // A folder created just now could not be a symlink; re-check anyway that the parent is still inside.
    this.locate(path.relative(this.root, path.dirname(abs)) || ".");
    this.writeAt(abs, content);
  }

  list(p: string, opts: { depth: number; limit: number }): WorkspaceListing {
    const { abs, rel } = this.locate(p);
    if (!existsSync(abs) || !statSync(abs).isDirectory())
      throw new WorkspaceFileError(`${rel} is not a directory.`);
    const entries: WorkspaceEntry[] = [];
    let omitted = 0;
    const walk = (dir: string, prefix: string, level: number) => {
      const found = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
      for (const e of found) {
        if (SKIP_DIRS.has(e.name)) continue;
        if (entries.length >= opts.limit) {
          omitted++;
          continue;
        }
        const full = path.join(dir, e.name);
        if (e.isSymbolicLink()) entries.push({ path: `${prefix}${e.name}`, kind: "symlink" });
        else if (e.isDirectory()) {
          entries.push({ path: `${prefix}${e.name}`, kind: "dir" });
          if (level < opts.depth) walk(full, `${prefix}${e.name}/`, level + 1);
        } else entries.push({ path: `${prefix}${e.name}`, kind: "file", size: lstatSync(full).size });
      }
    };
    walk(abs, rel === "." ? "" : `${rel}/`, 1);
    return { entries, omitted };
  }

  search(pattern: RegExp, p: string, opts: { maxMatches: number; maxLineChars: number }): WorkspaceSearch {
    const { abs } = this.locate(p);
    const result: WorkspaceSearch = { matches: [], total: 0 };
    const visit = (file: string) => {
      const st = lstatSync(file);
      if (st.isSymbolicLink()) return;
      if (st.isDirectory()) {
        for (const name of readdirSync(file).sort()) if (!SKIP_DIRS.has(name)) visit(path.join(file, name));
        return;
      }
      if (!st.isFile() || st.size > MAX_FILE_BYTES) return;
      const text = readFileSync(file, "utf8");
      if (text.includes("\0")) return;
      const lines = text.split("\n");
      const relFile = posix(path.relative(this.root, file));
      for (let i = 0; i < lines.length; i++) {
        // A model-written regex can backtrack badly: very long lines (minified, data) are only searched in part.
        if (!pattern.test(lines[i]!.slice(0, MAX_SEARCHED_LINE))) continue;
        result.total++;
        if (result.matches.length < opts.maxMatches)
          result.matches.push({
            path: relFile,
            line: i + 1,
            text: lines[i]!.trim().slice(0, opts.maxLineChars),
          });
      }
    };
    visit(abs);
    return result;
  }

  /** Through the gates' runner; `cwd` defaults to the tree as the runner was given it (the jail mounts it there). */
  exec(file: string, args: readonly string[], opts: WorkspaceExecOptions = {}): Promise<RunResult> {
    return this.run(file, args, { ...opts, cwd: opts.cwd ?? this.given });
  }
}
