/**
 * Markdown building blocks that keep untrusted text (LLM summaries, error messages, check ids, diffs) from changing
 * the document's structure: inline text is escaped and kept on one line, multi-line text goes into a fence longer
 * than any backtick run inside it.
 */

// Every ASCII punctuation character CommonMark lets us escape that can start inline markup, a link, raw HTML, an
// entity or a table cell boundary.
const INLINE_SPECIAL = /[\\`*_[\]<>#|!~&{}()]/g;

/** One line of plain text, safe anywhere inline (also inside a table cell). */
export function escapeInline(text: string, maxChars = 500): string {
  let s = text
    .replace(/\r?\n|\r/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (s.length > maxChars) s = `${s.slice(0, maxChars - 1)}…`;
  s = s.replace(INLINE_SPECIAL, (c) => `\\${c}`);
  // Block markers only matter at the start of a line; the caller may put the text there.
  return s.replace(/^([-+=])/, "\\$1").replace(/^(\d+)([.)])/, "$1\\$2");
}

/** A fenced code block whose fence cannot be closed by the content. */
export function fenced(text: string, lang = ""): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  const body = text.endsWith("\n") ? text : `${text}\n`;
  return `${fence}${lang}\n${body}${fence}`;
}

/** Keeps the first `maxLines` lines and at most `maxChars` characters; says whether anything was cut. */
export function capText(
  text: string,
  maxLines: number,
  maxChars: number,
): { text: string; truncated: boolean; totalLines: number } {
  const lines = text.split("\n");
  let kept = lines.slice(0, maxLines).join("\n");
  if (kept.length > maxChars) kept = kept.slice(0, maxChars);
  return { text: kept, truncated: kept.length < text.length, totalLines: lines.length };
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** A relative link whose target cannot break out of the parentheses. */
export function link(text: string, target: string): string {
  const href = encodeURI(target.replace(/\\/g, "/")).replace(
    /[()]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `[${escapeInline(text)}](${href})`;
}
