import { lstatSync, readdirSync } from "node:fs";
import path from "node:path";
import { DiscoveryError } from "../../core/errors.js";
import { readRegularFile } from "../../exec/read-regular-file.js";
import { runProcess } from "../../exec/run-process.js";
import { failureSignature } from "../../memory/signature.js";
import { venvBin } from "../../pyenv/python-env.js";
import type { NotWorkGroup } from "../../status/types.js";
import { CLASSIFY_SCRIPT } from "./discover-classify.js";

/**
 * Issues discovered in the code (find-work's second source, roadmap E4.8): `raise NotImplementedError` outside
 * leftover debugging (breakpoint, pdb, prints that say "debug" or use `{x=}`), and TODO/FIXME/HACK/XXX: markers.
 * Finding them is a line scanner, not a parser: it tracks triple-quoted strings so docstrings do not count, and
 * separates comments from code; pure over file contents. `discoverIssues` walks a tree and then asks Python's `ast`
 * which items are work (discover-classify.ts): abstract methods, base-class defaults, deliberate "unsupported"
 * guards, test helpers and items no test exercises are kept with the reason they are not work.
 */

export type DiscoveredKind = "debug_print" | "not_implemented" | "todo";

/** Why a discovered item is not work (discover-classify.ts decides). */
export type NotWorkReason = "abstract" | "base_default" | "unsupported" | "test_helper" | "no_evidence";

/** The reasons as the reports name them, in the order they are checked. */
export const NOT_WORK_REASONS: Record<NotWorkReason, string> = {
  test_helper: "test helper (the tests' own code)",
  abstract: "abstract method (an ABC or Protocol body)",
  base_default: "base-class default that subclasses override",
  unsupported: "deliberate guard: its message names an unsupported mode, engine, platform, format or feature",
  no_evidence: "no check can prove a change (no test exercises it)",
};

export interface DiscoveredIssue {
  kind: DiscoveredKind;
  /** Repository-relative, forward slashes. */
  file: string;
  line: number;
  /** The statement, trimmed (continuation lines of an open bracket joined). */
  text: string;
  /** A few lines around it, for the brain and the report. */
  context: string;
  /** The enclosing `def`, when there is one. */
  function?: string;
  title: string;
  /** Stable across line moves: kind, file, function and the normalised line. */
  signature: string;
  /** Set by `discoverIssues` when the item is not work: the reason and what showed it. */
  notWork?: { reason: NotWorkReason; why: string };
  /** Set by `discoverIssues` for work: the test files that exercise the item (what can prove a change). */
  evidence?: string[];
}

/** Cheapest and safest first: removing debugging, then completing code, then open-ended markers. */
const KIND_RANK: Record<DiscoveredKind, number> = { debug_print: 0, not_implemented: 1, todo: 2 };

const CONTEXT_LINES = 2;
/** Items listed per not-work group in a report (all are counted). */
const MAX_GROUP_ITEMS = 50;
const MAX_LINE_CHARS = 300;

interface ScannedLine {
  code: string;
  comment: string;
  /** The line starts inside a triple-quoted string (docstring or multi-line string). */
  inString: boolean;
}

/** Splits each line into code and comment, knowing which lines sit inside triple-quoted strings. */
function scanLines(lines: string[]): ScannedLine[] {
  let open: '"""' | "'''" | null = null;
  return lines.map((line) => {
    const startsInString = open !== null;
    let code = "";
    let comment = "";
    let quote: string | null = null;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (open) {
        if (line.startsWith(open, i)) {
          i += 2;
          open = null;
        }
        continue;
      }
      if (quote) {
        if (ch === "\\") i++;
        else if (ch === quote) quote = null;
        code += ch;
        continue;
      }
      const tri = line.startsWith('"""', i) ? '"""' : line.startsWith("'''", i) ? "'''" : null;
      if (tri) {
        open = tri;
        i += 2;
        code += " ";
        continue;
      }
      if (ch === "#") {
        comment = line.slice(i + 1);
        break;
      }
      if (ch === '"' || ch === "'") quote = ch;
      code += ch;
    }
    return { code, comment, inString: startsInString };
  });
}

const indentOf = (s: string) => s.length - s.trimStart().length;
const DEF = /^\s*(?:async\s+)?def\s+([A-Za-z_]\w*)/;

/** The name of the nearest enclosing def above line `i`. */
function enclosingDef(lines: string[], i: number): string | null {
  const indent = indentOf(lines[i]!);
  for (let j = i - 1; j >= 0; j--) {
    const l = lines[j]!;
    if (l.trim() === "" || indentOf(l) >= indent) continue;
    const m = DEF.exec(l);
    if (!m) {
      if (/^\s*class\s/.test(l)) return null;
      continue;
    }
    return m[1]!;
  }
  return null;
}

/** The line, joined with up to 3 continuation lines while brackets are open (`raise NotImplementedError(` + message). */
function statementText(lines: string[], i: number): string {
  const parts: string[] = [];
  let depth = 0;
  for (let j = i; j < lines.length && j <= i + 3; j++) {
    const l = lines[j]!.trim();
    parts.push(l);
    for (const ch of l)
      depth += ch === "(" || ch === "[" || ch === "{" ? 1 : ch === ")" || ch === "]" || ch === "}" ? -1 : 0;
    if (depth <= 0) break;
  }
  return parts.join(" ").slice(0, MAX_LINE_CHARS);
}

function isTestFile(file: string): boolean {
  const base = path.posix.basename(file);
  return /^test_.*\.py$|_test\.py$|^conftest\.py$/.test(base) || /(^|\/)tests?\//.test(file);
}

const NOT_IMPLEMENTED = /\braise\s+NotImplementedError\b/;
const DEBUGGER = /\bbreakpoint\s*\(\s*\)|\b(?:i?pdb)\.set_trace\s*\(|^\s*import\s+i?pdb\b/;
const PRINT = /(?<![\w.])print\s*\(/;
const DEBUG_WORD = /\bdebug\b/i;
const SELF_DOCUMENTING = /\{[^{}]*=\s*(?:![rsa])?(?::[^{}]*)?\}/;
const MARKER = /\b(TODO|FIXME|HACK)\b|\bXXX\b(?=\s*[:(])/;

/** Issues in one Python file. `file` is the repository-relative path used in results. */
export function discoverInPython(file: string, content: string): DiscoveredIssue[] {
  const rel = file.replace(/\\/g, "/");
  const lines = content.split(/\r?\n/);
  const scanned = scanLines(lines);
  const testFile = isTestFile(rel);
  const found: DiscoveredIssue[] = [];

  const add = (kind: DiscoveredKind, i: number, what: string) => {
    const text = statementText(lines, i);
    const fn = enclosingDef(lines, i);
    const from = Math.max(0, i - CONTEXT_LINES);
    const context = lines
      .slice(from, i + CONTEXT_LINES + 1)
      .map((l, k) => `${from + k + 1}: ${l.slice(0, MAX_LINE_CHARS)}`)
      .join("\n");
    const where = `${rel}:${i + 1}${fn ? ` in ${fn}()` : ""}`;
    found.push({
      kind,
      file: rel,
      line: i + 1,
      text,
      context,
      ...(fn ? { function: fn } : {}),
      title: `${what} at ${where}`,
      signature: failureSignature({
        gate: "discover",
        checkId: `${kind}:${rel}:${fn ?? ""}`,
        errorType: kind,
        message: text,
      }),
    });
  };

  scanned.forEach((s, i) => {
    if (s.inString && s.code.trim() === "") return;
    if (NOT_IMPLEMENTED.test(s.code)) add("not_implemented", i, "NotImplementedError");
    if (DEBUGGER.test(s.code)) add("debug_print", i, "leftover debugger call");
    else if (!testFile && PRINT.test(s.code)) {
      const prevComment = i > 0 ? scanned[i - 1]!.comment : "";
      if (
        DEBUG_WORD.test(s.code) ||
        DEBUG_WORD.test(s.comment) ||
        DEBUG_WORD.test(prevComment) ||
        SELF_DOCUMENTING.test(s.code)
      ) {
        add("debug_print", i, "leftover debug print");
      }
    }
    const marker = MARKER.exec(s.comment);
    if (marker) add("todo", i, `${marker[1] ?? "XXX"} marker`);
  });
  return found;
}

export interface DiscoverOptions {
  /** The Python that classifies the items (the venv's): its `ast` module parses the tree. */
  python: string;
  /** Files larger than this are skipped (generated code, vendored data). Default 1 MB. */
  maxFileBytes?: number;
  /** Extra folder names to skip, in addition to VCS, virtualenv, cache and build folders. */
  skipDirs?: string[];
  signal?: AbortSignal;
}

const SKIP_DIRS = new Set([
  "node_modules",
  "__pycache__",
  "venv",
  "env",
  "site-packages",
  "build",
  "dist",
  "htmlcov",
]);

const CLASSIFY_TIMEOUT_MS = 120_000;

interface Classified {
  reason?: NotWorkReason;
  why?: string;
  evidence?: string[];
}

/**
 * The issues in a repository's Python files (hidden folders, virtualenvs, caches and builds skipped), each either
 * work with its evidence or not work with the reason. Files are read as data: no link is followed, and a FIFO,
 * device or oversized file is skipped. One Python process classifies every item (discover-classify.ts).
 */
export async function discoverIssues(repoDir: string, opts: DiscoverOptions): Promise<DiscoveredIssue[]> {
  const maxBytes = opts.maxFileBytes ?? 1_000_000;
  const skip = new Set([...SKIP_DIRS, ...(opts.skipDirs ?? [])]);
  const files: { path: string; text: string; test: boolean }[] = [];
  const walk = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort()) {
      const childAbs = path.join(abs, name);
      const childRel = rel ? `${rel}/${name}` : name;
      const st = lstatSync(childAbs);
      if (st.isDirectory()) {
        if (!name.startsWith(".") && !skip.has(name) && !name.endsWith(".egg-info")) walk(childAbs, childRel);
      } else if (st.isFile() && name.endsWith(".py")) {
        const read = readRegularFile(childAbs, maxBytes);
        if (read.kind === "text") files.push({ path: childRel, text: read.text, test: isTestFile(childRel) });
      }
    }
  };
  walk(repoDir, "");
  const found = files.flatMap((f) => discoverInPython(f.path, f.text));
  if (found.length === 0) return [];
  const items = found.map((d) => ({ file: d.file, line: d.line, kind: d.kind }));
  const r = await runProcess(opts.python, ["-I", "-B", "-c", CLASSIFY_SCRIPT], {
    cwd: repoDir,
    input: JSON.stringify({ files, items }),
    timeoutMs: CLASSIFY_TIMEOUT_MS,
    maxOutputBytes: 64 * 1024 * 1024,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  let results: Classified[] | undefined;
  try {
    results = r.exitCode === 0 ? (JSON.parse(r.stdout) as { results: Classified[] }).results : undefined;
  } catch {
    results = undefined;
  }
  if (!results || results.length !== found.length) {
    const said =
      r.spawnError ??
      (r.timedOut ? "it did not finish in time" : r.stderr.trim().split("\n").slice(-3).join(" | "));
    throw new DiscoveryError(`classifying the discovered issues with ${opts.python} failed: ${said}`);
  }
  return sortDiscovered(
    found.map((d, i) => {
      const c = results[i]!;
      if (c.reason) return { ...d, notWork: { reason: c.reason, why: c.why ?? "" } };
      return { ...d, evidence: c.evidence ?? [] };
    }),
  );
}

/** Discovered items that are not work, grouped by reason (in NOT_WORK_REASONS' order) for the reports. */
export function notWorkGroups(issues: readonly DiscoveredIssue[]): NotWorkGroup[] {
  const groups: NotWorkGroup[] = [];
  for (const reason of Object.keys(NOT_WORK_REASONS) as NotWorkReason[]) {
    const items = issues.filter((d) => d.notWork?.reason === reason);
    if (items.length)
      groups.push({
        reason: NOT_WORK_REASONS[reason],
        count: items.length,
        items: items.slice(0, MAX_GROUP_ITEMS).map((d) => ({ title: d.title, why: d.notWork!.why })),
      });
  }
  return groups;
}

export function sortDiscovered(issues: DiscoveredIssue[]): DiscoveredIssue[] {
  return [...issues].sort(
    (a, b) => KIND_RANK[a.kind] - KIND_RANK[b.kind] || a.file.localeCompare(b.file) || a.line - b.line,
  );
}

/** A python repository's discovery (the python and odibi profiles' `discover`), with the gates' venv's python. */
export function discoverPython(
  repo: string,
  opts: { venv: string; signal?: AbortSignal },
): Promise<DiscoveredIssue[]> {
  return discoverIssues(repo, {
    python: venvBin(opts.venv, "python"),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
}
