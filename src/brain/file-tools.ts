import type { Workspace } from "../workspace/workspace.js";

/**
 * What the model's file tools answer, built on the Workspace alone (any implementation: local, remote). A call the
 * model must redo differently throws ToolUsageError; the workspace's refusals (WorkspaceError) reach the model too.
 */
export class ToolUsageError extends Error {}

const MAX_VIEW_LINES = 200;
const MAX_LIST_ENTRIES = 300;
const MAX_SEARCH_MATCHES = 80;
const MAX_MATCH_LINE = 240;

export function listDir(ws: Workspace, p = ".", depth = 1): string {
  const { entries, omitted } = ws.list(p, { depth, limit: MAX_LIST_ENTRIES });
  const lines = entries.map((e) =>
    e.kind === "symlink"
      ? `${e.path} -> (symlink)`
      : e.kind === "dir"
        ? `${e.path}/`
        : `${e.path} (${e.size} B)`,
  );
  if (omitted > 0) lines.push(`… ${omitted} more entries not shown: list a subfolder.`);
  return lines.length ? lines.join("\n") : "(empty directory)";
}

export function viewFile(ws: Workspace, p: string, startLine = 1, endLine?: number): string {
  const rel = ws.resolve(p);
  const all = ws.read(rel).split(/\r?\n/);
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

export function searchText(ws: Workspace, pattern: string, p = ".", isRegex = false): string {
  const rel = ws.resolve(p);
  let re: RegExp;
  try {
    re = new RegExp(isRegex ? pattern : pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  } catch (e) {
    throw new ToolUsageError(
      `invalid regular expression: ${(e as Error).message}. Send regex=false for a literal search.`,
    );
  }
  const { matches, total } = ws.search(re, rel, {
    maxMatches: MAX_SEARCH_MATCHES,
    maxLineChars: MAX_MATCH_LINE,
  });
  if (total === 0) return `no match for ${JSON.stringify(pattern)} under ${rel}`;
  const more =
    total > matches.length ? `\n… ${total - matches.length} more matches: narrow the path or pattern.` : "";
  return `${total} match(es):\n${matches.map((m) => `${m.path}:${m.line}: ${m.text}`).join("\n")}${more}`;
}

export function replaceInFile(ws: Workspace, p: string, oldTextGiven: string, newTextGiven: string): string {
  const rel = ws.resolve(p);
  if (oldTextGiven === "")
    throw new ToolUsageError("old_text is empty: copy the exact lines to replace from view_file.");
  const text = ws.read(rel);
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
  ws.write(rel, text.slice(0, at) + newText + text.slice(at + oldText.length));
  const first = lineOf(at);
  const last = first + Math.max(0, newText.split("\n").length - 1);
  return `replaced in ${rel}; the changed region now reads:\n${viewFile(ws, rel, Math.max(1, first - 2), last + 2)}`;
}

export function createFile(ws: Workspace, p: string, content: string): string {
  const rel = ws.resolve(p);
  ws.create(rel, content);
  return `created ${rel} (${content.split("\n").length} lines)`;
}
