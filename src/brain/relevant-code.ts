import path from "node:path";
import type { Check } from "../core/types.js";
import type { Workspace } from "../workspace/workspace.js";
import { searchText, viewFile } from "./file-tools.js";
import type { EvidenceSection } from "./prompts.js";
import { pytestEvidence } from "./python-evidence.js";
import type { ExecutedLines } from "./python-trace.js";

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

/**
 * Numbered excerpts of the code the failures point at (the failing test, the lines a traceback or a lint rule
 * names), so the model starts from the right place. Paths outside the sandbox (site-packages in a traceback) are
 * skipped by the same confinement the tools use.
 */
export function relevantCode(files: Workspace, checks: Check[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const c of checks) {
    for (const s of spotsOf(c)) {
      if (out.length >= MAX_WINDOWS) return out;
      try {
        // Tracebacks often name absolute paths; those inside the sandbox are fine, the rest is refused below.
        const rel = files.resolve(path.isAbsolute(s.file) ? path.relative(files.root, s.file) : s.file);
        let line = s.line;
        if (line === undefined) {
          const name = c.id.split("::").at(-1)?.replace(/\[.*$/, "");
          const hit = name ? searchText(files, `def ${name}(`, rel).match(/:(\d+):/) : null;
          line = hit ? Number(hit[1]) : 1;
        }
        const key = `${rel}:${Math.floor(line / (2 * CONTEXT_LINES))}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(viewFile(files, rel, Math.max(1, line - CONTEXT_LINES), line + CONTEXT_LINES));
      } catch {
        // not a file of the sandbox (or gone): nothing to show
      }
    }
  }
  return out;
}

const LINT_CONTEXT = 6;
/** Evidence for the first failures up to about this many characters (the prompt stays well under ~12k). */
const MAX_EVIDENCE_TOTAL = 8000;

/** A lint finding: the rule's one-line documentation and the code around the line it names. */
function lintEvidence(
  files: Workspace,
  c: Check,
  ruleDocs: ReadonlyMap<string, string>,
): EvidenceSection | undefined {
  if (!c.file || c.line === undefined) return undefined;
  let window: string;
  try {
    window = viewFile(files, c.file, Math.max(1, c.line - LINT_CONTEXT), c.line + LINT_CONTEXT).replace(
      /\n\(lines \d+-\d+ not shown;.*\)$/,
      "",
    );
  } catch {
    return undefined;
  }
  const doc = c.errorType ? ruleDocs.get(c.errorType) : undefined;
  return {
    title: `Evidence for ${c.id}`,
    body: `${doc ? `Rule ${doc}\n\n` : ""}${window}`,
    covers: `${c.gate}\u0000${c.id}`,
  };
}

/**
 * What the first prompt shows of the failures: an evidence section for each failure there is a reader for (a
 * failing pytest test, a lint finding), and numbered excerpts of the code the other failures point at.
 */
export function failureEvidence(
  files: Workspace,
  checks: Check[],
  ruleDocs: ReadonlyMap<string, string> = new Map(),
  traces: ReadonlyMap<string, ExecutedLines> = new Map(),
): { evidence: EvidenceSection[]; relevantCode: string[] } {
  const evidence: EvidenceSection[] = [];
  const rest: Check[] = [];
  let size = 0;
  for (const c of checks) {
    // The first failures get evidence; past the cap the rest are listed with their detail and code excerpts.
    const e =
      size >= MAX_EVIDENCE_TOTAL
        ? undefined
        : c.gate === "tests"
          ? pytestEvidence(files, c, traces.get(c.id))
          : c.gate === "lint"
            ? lintEvidence(files, c, ruleDocs)
            : undefined;
    if (e) {
      evidence.push(e);
      size += e.body.length;
    } else rest.push(c);
  }
  return { evidence, relevantCode: relevantCode(files, rest) };
}
