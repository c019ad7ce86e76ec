import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { removeInside, restoreInside, UnsafePathError, writeInside } from "../environment/fs-safe.js";
import { readRegularFile } from "../exec/read-regular-file.js";
import { resolveInSandbox, SandboxPathError } from "./sandbox-path.js";

/**
 * The file operations the model may use, all confined to one sandbox. Each returns text for the model; a refusal
 * or a failed edit throws ToolUsageError whose message tells the model what to do instead.
 */
export class ToolUsageError extends Error {}

/** Folders no tool walks into: tool caches, environments, VCS metadata. */
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
export const MAX_VIEW_LINES = 200;
const MAX_LIST_ENTRIES = 300;
const MAX_SEARCH_MATCHES = 80;
const MAX_MATCH_LINE = 240;
const MAX_SEARCHED_LINE = 2000;

export class SandboxFiles {
  readonly root: string;
  /** Original content (undefined = did not exist) of every file a tool wrote, to undo an attempt. */
  private readonly originals = new Map<string, string | undefined>();
  /** Folders create_file made (the topmost new one of each call), removed by undo. */
  private readonly createdDirs: string[] = [];

  constructor(sandboxPath: string) {
    this.root = realpathSync(sandboxPath);
  }

  resolve(p: string): { abs: string; rel: string } {
    return resolveInSandbox(this.root, p);
  }

  /** Files written since the last `undo` / `keep`, sandbox-relative, sorted. */
  changedFiles(): string[] {
    return [...this.originals.keys()]
      .map((a) => path.relative(this.root, a).split(path.sep).join("/"))
      .sort();
  }

  /**
   * Put back every file written since the last mark (a failed attempt leaves no trace for the next one). The gates
   * ran the candidate's code in between, which may have replaced any of these paths (or a folder on the way) by a
   * link to anywhere: nothing here follows a link (a link is removed and the file written anew).
   */
  undo(): void {
    for (const [abs, content] of this.originals) restoreInside(this.root, abs, content);
    for (const dir of this.createdDirs.reverse()) removeInside(this.root, dir);
    this.originals.clear();
    this.createdDirs.length = 0;
  }

  /** Accept the writes so far (the next undo will not revert them). */
  keep(): void {
    this.originals.clear();
    this.createdDirs.length = 0;
  }

  private readText(abs: string, rel: string): string {
    let st: import("node:fs").Stats;
    try {
      st = statSync(abs);
    } catch {
      throw new ToolUsageError(`${rel} does not exist. Use list_dir or search_text to find the right path.`);
    }
    if (st.isDirectory()) throw new ToolUsageError(`${rel} is a directory; use list_dir on it.`);
    if (st.size > MAX_FILE_BYTES)
      throw new ToolUsageError(`${rel} is too large to handle (${st.size} bytes).`);
    // Only a regular file: a FIFO the model made with `run` would block the read and the whole campaign.
    const read = readRegularFile(abs, MAX_FILE_BYTES);
    if (read.kind !== "text")
      throw new ToolUsageError(`${rel} cannot be read: ${read.kind === "refused" ? read.why : "gone"}.`);
    const text = read.text;
    if (text.includes("\0")) throw new ToolUsageError(`${rel} is a binary file.`);
    return text;
  }

  /** The whole text of a sandbox file (confined like every tool). */
  read(p: string): string {
    const { abs, rel } = this.resolve(p);
    return this.readText(abs, rel);
  }

  private write(abs: string, content: string): void {
    if (!this.originals.has(abs)) {
      const st = lstatSync(abs, { throwIfNoEntry: false });
      this.originals.set(abs, st?.isFile() ? readFileSync(abs, "utf8") : undefined);
    }
    try {
      writeInside(this.root, abs, content);
    } catch (e) {
      if (e instanceof UnsafePathError) throw new ToolUsageError(`${e.message}. Write regular files only.`);
      throw e;
    }
  }

  listDir(p = ".", depth = 1): string {
    const { abs, rel } = this.resolve(p);
    if (!existsSync(abs) || !statSync(abs).isDirectory())
      throw new ToolUsageError(`${rel} is not a directory.`);
    const lines: string[] = [];
    let more = 0;
    const walk = (dir: string, prefix: string, level: number) => {
      const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
      for (const e of entries) {
        if (SKIP_DIRS.has(e.name)) continue;
        if (lines.length >= MAX_LIST_ENTRIES) {
          more++;
          continue;
        }
        const full = path.join(dir, e.name);
        if (e.isSymbolicLink()) lines.push(`${prefix}${e.name} -> (symlink)`);
        else if (e.isDirectory()) {
          lines.push(`${prefix}${e.name}/`);
          if (level < depth) walk(full, `${prefix}${e.name}/`, level + 1);
        } else lines.push(`${prefix}${e.name} (${lstatSync(full).size} B)`);
      }
    };
    walk(abs, rel === "." ? "" : `${rel}/`, 1);
    if (more > 0) lines.push(`… ${more} more entries not shown: list a subfolder.`);
    return lines.length ? lines.join("\n") : "(empty directory)";
  }

  viewFile(p: string, startLine = 1, endLine?: number): string {
    const { abs, rel } = this.resolve(p);
    const all = this.readText(abs, rel).split(/\r?\n/);
    const start = Math.max(1, Math.floor(startLine));
    const end = Math.min(all.length, endLine ?? start + MAX_VIEW_LINES - 1, start + MAX_VIEW_LINES - 1);
    if (start > all.length) throw new ToolUsageError(`${rel} has only ${all.length} lines.`);
    const width = String(end).length;
    const body = all
      .slice(start - 1, end)
      .map((l, i) => `${String(start + i).padStart(width)}| ${l}`)
      .join("\n");
    const tail =
      end < all.length ? `\n(lines ${end + 1}-${all.length} not shown; ask for them with start_line)` : "";
    return `${rel} lines ${start}-${end} of ${all.length}:\n${body}${tail}`;
  }

  searchText(pattern: string, p = ".", isRegex = false): string {
    const { abs, rel } = this.resolve(p);
    let re: RegExp;
    try {
      re = new RegExp(isRegex ? pattern : pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    } catch (e) {
      throw new ToolUsageError(
        `invalid regular expression: ${(e as Error).message}. Send regex=false for a literal search.`,
      );
    }
    const matches: string[] = [];
    let total = 0;
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
      const relFile = path.relative(this.root, file).split(path.sep).join("/");
      for (let i = 0; i < lines.length; i++) {
        // A model-written regex can backtrack badly: very long lines (minified, data) are only searched in part.
        if (!re.test(lines[i]!.slice(0, MAX_SEARCHED_LINE))) continue;
        total++;
        if (matches.length < MAX_SEARCH_MATCHES)
          matches.push(`${relFile}:${i + 1}: ${lines[i]!.trim().slice(0, MAX_MATCH_LINE)}`);
      }
    };
    visit(abs);
    if (total === 0) return `no match for ${JSON.stringify(pattern)} under ${rel}`;
    const more =
      total > matches.length ? `\n… ${total - matches.length} more matches: narrow the path or pattern.` : "";
    return `${total} match(es):\n${matches.join("\n")}${more}`;
  }

  replaceInFile(p: string, oldTextGiven: string, newTextGiven: string): string {
    const { abs, rel } = this.resolve(p);
    if (oldTextGiven === "")
      throw new ToolUsageError("old_text is empty: copy the exact lines to replace from view_file.");
    const text = this.readText(abs, rel);
    // Checkouts on Windows often have CRLF; the model sees and sends plain newlines. Keep the file's line endings.
    const crlf = text.includes("\r\n");
    const eol = (s: string) => (crlf ? s.replace(/\r?\n/g, "\r\n") : s);
    const oldText = eol(oldTextGiven);
    const newText = eol(newTextGiven);
    const positions: number[] = [];
    for (let at = text.indexOf(oldText); at !== -1; at = text.indexOf(oldText, at + 1)) positions.push(at);
    const lineOf = (offset: number) => text.slice(0, offset).split("\n").length;
    if (positions.length === 0) {
      const first = oldText
        .split("\n")
        .find((l) => l.trim() !== "")
        ?.trim();
      const near = first
        ? text
            .split("\n")
            .map((l, i) => ({ l, i }))
            .filter(({ l }) => l.includes(first))
            .map(({ i }) => i + 1)
        : [];
      const where = near.length
        ? ` Its first line appears at line(s) ${near.slice(0, 5).join(", ")}: the rest differs (indentation?).`
        : "";
      throw new ToolUsageError(
        `old_text was not found in ${rel}.${where} View the file and copy the exact text, whitespace included.`,
      );
    }
    if (positions.length > 1) {
      throw new ToolUsageError(
        `old_text occurs ${positions.length} times in ${rel} (lines ${positions.map(lineOf).join(", ")}): include more surrounding lines so it matches once.`,
      );
    }
    const at = positions[0]!;
    this.write(abs, text.slice(0, at) + newText + text.slice(at + oldText.length));
    const first = lineOf(at);
    const last = first + Math.max(0, newText.split("\n").length - 1);
    return `replaced in ${rel}; the changed region now reads:\n${this.viewFile(rel, Math.max(1, first - 2), last + 2)}`;
  }

  createFile(p: string, content: string): string {
    const { abs, rel } = this.resolve(p);
    if (existsSync(abs)) throw new ToolUsageError(`${rel} already exists: change it with replace_in_file.`);
    const firstNew = mkdirSync(path.dirname(abs), { recursive: true });
    if (firstNew) this.createdDirs.push(firstNew);
    // A folder created just now could not be a symlink; re-check anyway that the parent is still inside.
    this.resolve(path.relative(this.root, path.dirname(abs)) || ".");
    this.write(abs, content);
    return `created ${rel} (${content.split("\n").length} lines)`;
  }
}

export { SandboxPathError };
