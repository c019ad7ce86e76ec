import path from "node:path";
import type { Check } from "../core/types.js";
import type { SandboxFiles } from "./sandbox-files.js";

const MAX_WINDOWS = 4;
const CONTEXT_LINES = 12;
/** `path/to/file.py:12` as it appears in tracebacks and lint output. */
const FILE_LINE = /([\w./\\-]+\.(?:py|ts|js|go|rs|yaml|yml|toml|json)):(\d+)/g;

interface Spot {
  file: string;
  line?: number;
}

function spotsOf(c: Check): Spot[] {
  const spots: Spot[] = [];
  if (c.file) spots.push({ file: c.file, line: c.line });
  // pytest ids: tests/test_x.py::TestY::test_z → the test file, at the test's definition.
  const [idFile, ...rest] = c.id.split("::");
  if (idFile && rest.length > 0) spots.push({ file: idFile, line: undefined });
  for (const m of `${c.message ?? ""}\n${c.detail ?? ""}`.matchAll(FILE_LINE))
    spots.push({ file: m[1]!, line: Number(m[2]) });
  return spots;
}

const FROM_IMPORT = /^from\s+([\w.]+)\s+import\s+\(?([\w\s,]+)\)?/gm;

/**
 * For a Python test: where the names it imports and uses are defined (`from calc import add` and the test calls
 * `add(` → `calc.py` at `def add`). The bug is usually there, not in the test.
 */
function definitionsUsedBy(files: SandboxFiles, testRel: string, testName: string | undefined): Spot[] {
  if (!testRel.endsWith(".py")) return [];
  const source = files.read(testRel);
  const body = testName ? (source.split(`def ${testName}(`)[1]?.split(/\n(?:def|class) /)[0] ?? "") : source;
  const spots: Spot[] = [];
  for (const m of source.matchAll(FROM_IMPORT)) {
    const modulePath = m[1]!.replace(/\./g, "/");
    for (const name of m[2]!.split(",").map((n) => n.trim().split(/\s+/)[0]!)) {
      if (!name || !new RegExp(`\\b${name}\\b`).test(body)) continue;
      for (const candidate of [
        `${modulePath}.py`,
        `${modulePath}/__init__.py`,
        `src/${modulePath}.py`,
        `src/${modulePath}/__init__.py`,
      ]) {
        try {
          const hit = files.searchText(`^\\s*(def|class) ${name}\\b`, candidate, true).match(/:(\d+):/);
          if (hit) spots.push({ file: candidate, line: Number(hit[1]) });
        } catch {
          // no such module file
        }
      }
    }
  }
  return spots;
}

/**
 * Numbered excerpts of the code the failures point at (the failing test, the lines a traceback or a lint rule
 * names), so the model starts from the right place. Paths outside the sandbox (site-packages in a traceback) are
 * skipped by the same confinement the tools use.
 */
export function relevantCode(files: SandboxFiles, checks: Check[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const c of checks) {
    const spots = spotsOf(c);
    // Definitions found through a test's imports are inserted right after it, so they win over later spots.
    for (const s of spots) {
      if (out.length >= MAX_WINDOWS) return out;
      try {
        // Tracebacks often name absolute paths; those inside the sandbox are fine, the rest is refused below.
        const { rel } = files.resolve(path.isAbsolute(s.file) ? path.relative(files.root, s.file) : s.file);
        let line = s.line;
        if (line === undefined) {
          const name = c.id.split("::").at(-1)?.replace(/\[.*$/, "");
          const hit = name ? files.searchText(`def ${name}(`, rel).match(/:(\d+):/) : null;
          line = hit ? Number(hit[1]) : 1;
        }
        const key = `${rel}:${Math.floor(line / (2 * CONTEXT_LINES))}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(files.viewFile(rel, Math.max(1, line - CONTEXT_LINES), line + CONTEXT_LINES));
        if (s.line === undefined) {
          const extra = definitionsUsedBy(files, rel, c.id.split("::").at(-1)?.replace(/\[.*$/, ""));
          spots.splice(spots.indexOf(s) + 1, 0, ...extra);
        }
      } catch {
        // not a file of the sandbox (or gone): nothing to show
      }
    }
  }
  return out;
}
