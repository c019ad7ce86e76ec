import type { Task } from "../core/types.js";
import type { Workspace } from "../workspace/workspace.js";
import type { EvidenceSection } from "./prompts.js";
import { moduleOf } from "./python-source.js";

/**
 * The first prompt's evidence for a test-adding task (kind `coverage`): the target module with its uncovered lines
 * marked, and an existing test of that module (else any test of the tree) as the style to follow.
 */

const MAX_SOURCE_LINES = 400;
const MAX_EXAMPLE_LINES = 80;

/**
 * The uncovered lines a coverage task's detail names (campaign/coverage-work.ts: `Lines no test or harness runs:
 * 3-5, 9.`; also `uncovered lines: …`, `missing: …`). Pure.
 */
export function uncoveredLines(detail: string | undefined): number[] {
  const line = (detail ?? "")
    .split("\n")
    .find((l) => /^lines no test|uncovered|missing|not covered/i.test(l) && /\d/.test(l));
  if (!line) return [];
  const ranges = line.slice(line.indexOf(":") + 1);
  const out: number[] = [];
  for (const m of ranges.matchAll(/(\d+)(?:\s*[-–]\s*(\d+))?/g)) {
    const a = Number(m[1]);
    const b = m[2] ? Number(m[2]) : a;
    for (let n = a; n <= b && out.length < 5000; n++) out.push(n);
  }
  return out;
}

/** The task's module: its file, or its target when that is a path. */
export function targetFile(task: Task): string {
  return task.file ?? task.target.replace(/:\d+$/, "");
}

function numbered(text: string, marked: ReadonlySet<number>, max: number): string {
  const lines = text.split("\n");
  const shown = lines
    .slice(0, max)
    .map((l, i) => `${marked.has(i + 1) ? "!" : " "}${String(i + 1).padStart(5)}  ${l}`);
  if (lines.length > max) shown.push(`… (${lines.length - max} more lines: view_file shows them)`);
  return shown.join("\n");
}

const isTestName = (p: string) => /(^|\/)(test_[^/]*|[^/]*_test)\.py$/.test(p);

/** A test file importing the target's module, else the first test file of the tree; undefined when there is none. */
export function exampleTest(ws: Workspace, target: string): string | undefined {
  const { module } = moduleOf(target);
  const last = module.split(".").at(-1)!;
  const parent = module.split(".").slice(0, -1).join(".");
  const esc = (s: string) => s.replace(/[.]/g, "\\.");
  const imports = new RegExp(
    `^\\s*(?:from\\s+${esc(module)}\\s+import|import\\s+${esc(module)}\\b${parent ? `|from\\s+${esc(parent)}\\s+import\\s+.*\\b${last}\\b` : ""})`,
  );
  try {
    const hits = ws.search(imports, ".", { maxMatches: 50, maxLineChars: 200 }).matches;
    const importing = hits.map((h) => h.path).find(isTestName);
    if (importing) return importing;
    return ws.search(/^\s*def test_/, ".", { maxMatches: 1, maxLineChars: 80 }).matches[0]?.path;
  } catch {
    return undefined;
  }
}

export function testTaskEvidence(ws: Workspace, task: Task): EvidenceSection[] {
  const target = targetFile(task);
  const uncovered = new Set(uncoveredLines(task.detail));
  const out: EvidenceSection[] = [];
  try {
    const marks = uncovered.size ? " (lines marked ! are not executed by any test)" : "";
    out.push({
      title: `The target ${target}${marks}`,
      body: numbered(ws.read(target), uncovered, MAX_SOURCE_LINES),
    });
  } catch (e) {
    out.push({ title: `The target ${target}`, body: `(cannot be read: ${(e as Error).message})` });
  }
  const example = exampleTest(ws, target);
  if (example) {
    try {
      out.push({
        title: `An existing test (${example}): follow its style and imports; do not change it`,
        body: numbered(ws.read(example), new Set(), MAX_EXAMPLE_LINES),
      });
    } catch {
      // unreadable: no example
    }
  }
  return out;
}
