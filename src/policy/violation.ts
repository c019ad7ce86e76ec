import type { UnsafeGitPath } from "../environment/tree-safety.js";
import type { DiffLine, PolicyRule, PolicyViolation } from "./types.js";

const MAX_LINES_SHOWN = 8;

export function violation(
  rule: PolicyRule,
  file: string,
  line: number,
  message: string,
  lines: readonly string[] = [],
): PolicyViolation {
  return { rule, file, line, message, lines: lines.slice(0, MAX_LINES_SHOWN) };
}

export const plus = (l: DiffLine): string => `+${l.text}`;
export const minus = (l: DiffLine): string => `-${l.text}`;

/** Is the line a comment (Python/shell `#`, C-like `//`)? */
export function isCommentLine(text: string): boolean {
  return /^\s*(#|\/\/)/.test(text);
}

/** Apply a global regex over a list of lines joined by "\n"; report each match with the line it starts on. */
export function matchLines(
  lines: readonly DiffLine[],
  re: RegExp,
): { match: RegExpExecArray; at: DiffLine }[] {
  const offsets: number[] = [];
  let pos = 0;
  for (const l of lines) {
    offsets.push(pos);
    pos += l.text.length + 1;
  }
  const text = lines.map((l) => l.text).join("\n");
  return matchText(text, re).map(({ match, index }) => {
    let i = offsets.length - 1;
    while (i > 0 && offsets[i]! > index) i--;
    return { match, at: lines[i] ?? { line: 0, text: "" } };
  });
}

/** Every match of a (global) regex with its 0-based line index in the text. */
export function matchText(
  text: string,
  re: RegExp,
): { match: RegExpExecArray; index: number; lineIndex: number }[] {
  const g = re.global ? re : new RegExp(re.source, `${re.flags}g`);
  g.lastIndex = 0;
  const out: { match: RegExpExecArray; index: number; lineIndex: number }[] = [];
  for (let m = g.exec(text); m; m = g.exec(text)) {
    out.push({ match: m, index: m.index, lineIndex: countNewlines(text, m.index) });
    if (m[0].length === 0) g.lastIndex++;
  }
  return out;
}

function countNewlines(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < end; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** Content split into DiffLine-like numbered lines (1-based). */
export function numberedLines(content: string): DiffLine[] {
  return content.split(/\r?\n/).map((text, i) => ({ line: i + 1, text }));
}

/** The policy gate's form of a rejection: one `unsafe-git-path` violation per path. */
export function unsafeGitViolations(paths: UnsafeGitPath[]): PolicyViolation[] {
  return paths.map((p) => ({
    rule: "unsafe-git-path" as const,
    file: p.path,
    line: 0,
    message: `${p.reason}; no git command runs on a tree holding it`,
    lines: [],
  }));
}
