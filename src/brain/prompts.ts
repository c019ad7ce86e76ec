import { stripVTControlCharacters } from "node:util";
import type { Check, GateResult, Task } from "../core/types.js";

/** Roadmap E4.4, plus how to use the tools. */
export const SYSTEM_PROMPT = `You are an autonomous senior software engineer working in a sandbox.

Objective: Make all promotion gates pass (tests, lint, golden projects).

Constraints:
- Prefer the smallest, safest change
- Do not remove or weaken tests (no deleting, skipping, xfail-ing or loosening assertions)
- Keep code style consistent
- Use provided tools to inspect and edit files

How to work:
- Paths are relative to the sandbox root; nothing outside it can be read or written.
- Inspect before editing: view_file shows numbered lines; replace_in_file needs old_text copied exactly and matching once.
- Check your change with run_gates (scope "targeted" first, then "full").
- When the gates pass, or you cannot make progress, call finish with a short summary of what you changed and why.
  After finish, all gates are run again; the change is kept only if they pass.`;

/** For a test-adding task (kind `coverage`): tests are the change, nothing else is. */
export const TEST_SYSTEM_PROMPT = `You are an autonomous senior software engineer working in a sandbox.

Objective: Add tests that raise the coverage of the target module and would catch real bugs in it.

Constraints:
- Only ADD new test files (for Python: tests/test_<topic>.py, collected by pytest). Do not modify or delete any
  existing file: the code, its tests and their configuration stay as they are (a change to them is rejected).
- No conftest.py, no fixtures files, no configuration: one or more new test files only.
- Each test must assert the behaviour it exercises (exact return values, raised exceptions). A test that only calls
  code, or asserts something that cannot fail, is rejected.
- Tests must be deterministic: no randomness, clocks, network or state left between runs.
- Exercise the lines marked as not executed by any test.

How to work:
- Paths are relative to the sandbox root; nothing outside it can be read or written.
- Read the target and the example test, then create_file the new test file.
- Check it with run_gates (scope "full").
- Then call finish with a short summary. After finish the new tests are kept only if they pass on the code as it
  is, pass 5 more runs, raise the target's coverage, and fail on at least one small bug the tool plants in the
  target (a flipped comparison, an off-by-one, a dropped None check, swapped arguments); then all gates run again.`;

const MAX_DETAIL = 1500;
const MAX_FAILURES = 25;

function cap(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}\n… (${s.length - n} more characters)` : s;
}

/** The end of a long text, where a log or a traceback has its error. */
function capTail(s: string, n: number): string {
  return s.length > n ? `… (${s.length - n} earlier characters)\n${s.slice(s.length - n)}` : s;
}

/** Separator lines tools print around sections: `==== FAILURES ====`, `____ test_x ____`, `_ _ _ _`. */
const BANNER = /^\s*(?:[=_-](?:\s?[=_-]){5,}.*?(?:[=_-]\s?){5,}|(?:[=_-]\s?){10,})\s*$/;

/** What the model reads of a tool's output: colour codes and banner lines removed, CRLF as LF. */
export function cleanDetail(s: string): string {
  return stripVTControlCharacters(s)
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .filter((l) => !BANNER.test(l))
    .join("\n")
    .trim();
}

/**
 * Evidence gathered for the failures (a failing test's source and the code it calls, a lint rule's documentation
 * and its code window, …), one section per failure. `covers` (`gate`, NUL, check id) names the check whose raw
 * detail the section replaces in the list of failing checks.
 */
export interface EvidenceSection {
  title: string;
  body: string;
  covers?: string;
}

export function failingChecks(result: GateResult): Check[] {
  return result.runs.flatMap((r) => r.checks.filter((c) => c.status === "fail"));
}

/** Gate errors (a gate that could not run) as text, one per line. */
function gateErrors(result: GateResult): string[] {
  return result.runs.filter((r) => r.error).map((r) => `- [${r.gate}] the gate could not run: ${r.error}`);
}

/** One failure as the model should read it: where, which rule/test/node, the message, then the detail. */
export function describeCheck(c: Check, withDetail = true): string {
  const at = c.file
    ? ` at ${c.file}${c.line !== undefined ? `:${c.line}${c.column !== undefined ? `:${c.column}` : ""}` : ""}`
    : "";
  const kind = c.errorType ? ` ${c.errorType}` : "";
  const head = `- [${c.gate}] ${c.id}${kind}${at}: ${cleanDetail(c.message ?? "") || "failed"}`;
  const detail = withDetail && c.detail ? cleanDetail(c.detail) : "";
  return detail ? `${head}\n${indent(capTail(detail, MAX_DETAIL))}` : head;
}

function indent(s: string): string {
  return s
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

/** One line per failure (no detail), for "tried and failed" lists and gate tool results. */
export function failureLines(result: GateResult): string[] {
  return [
    ...gateErrors(result),
    ...failingChecks(result).map(
      (c) => `${c.gate} ${c.id}${c.file && c.line ? ` (${c.file}:${c.line})` : ""}: ${c.message ?? "failed"}`,
    ),
  ];
}

/** `covered`: checks (`gate`, NUL, id) whose detail an evidence section shows instead. */
export function describeFailures(result: GateResult, covered: ReadonlySet<string> = new Set()): string {
  const checks = failingChecks(result);
  const lines = [
    ...gateErrors(result),
    ...checks.slice(0, MAX_FAILURES).map((c) => describeCheck(c, !covered.has(`${c.gate}\u0000${c.id}`))),
  ];
  if (checks.length > MAX_FAILURES) lines.push(`… and ${checks.length - MAX_FAILURES} more failing checks.`);
  return lines.length ? lines.join("\n") : "(no failing check recorded)";
}

export interface PreviousAttempt {
  attempt: number;
  summary?: string;
  filesChanged: string[];
  stopReason: string;
  /** What still failed after it (one line each). */
  failures: string[];
}

export interface UserPromptInput {
  task?: Task;
  gateResult: GateResult;
  /** Excerpts of the code the failures point at, already numbered. */
  relevantCode: string[];
  /** Evidence for the failures, most useful first. */
  evidence?: EvidenceSection[];
  /** For failing golden nodes: the node's error and frames, its YAML, the pattern's source (golden-evidence.ts). */
  goldenEvidence?: string[];
  /** What memory says was tried and failed for this signature. */
  avoid: string[];
  /** Lessons of similar past tasks from memory. */
  similar?: string[];
  goal?: string;
  previous: PreviousAttempt[];
}

export function buildUserPrompt(p: UserPromptInput): string {
  const parts: string[] = [];
  if (p.goal) parts.push(`Campaign goal: ${p.goal}`);
  if (p.task) {
    // A failing check's detail is in the list below (or its evidence): not repeated here.
    const listed = failingChecks(p.gateResult).some((c) => c.id === p.task?.target);
    parts.push(
      `Task: ${p.task.title}\nTarget: ${p.task.target}${p.task.detail && !listed ? `\nDetail: ${cap(cleanDetail(p.task.detail), MAX_DETAIL)}` : ""}`,
    );
  }
  const evidence = p.evidence ?? [];
  const covered = new Set(evidence.flatMap((e) => (e.covers ? [e.covers] : [])));
  parts.push(`Failing gate checks:\n${describeFailures(p.gateResult, covered)}`);
  for (const e of evidence) parts.push(`${e.title}:\n\n${e.body}`);
  if (p.goldenEvidence?.length) parts.push(...p.goldenEvidence);
  if (p.relevantCode.length) parts.push(`Relevant code:\n\n${p.relevantCode.join("\n\n")}`);
  if (p.avoid.length) {
    parts.push(
      `Approaches already tried for this failure that did NOT work (do not repeat them):\n${p.avoid.map((a) => `- ${a}`).join("\n")}`,
    );
  }
  if (p.similar?.length) {
    parts.push(
      `Lessons from similar past tasks (what was tried and how it ended):\n${p.similar.map((a) => `- ${a}`).join("\n")}`,
    );
  }
  for (const a of p.previous) {
    parts.push(
      `Previous attempt ${a.attempt} in this cycle (its changes were reverted) ended by ${a.stopReason}.` +
        `\nIts summary: ${a.summary ?? "(none)"}` +
        `\nFiles it changed: ${a.filesChanged.join(", ") || "(none)"}` +
        `\nWhat still failed after it:\n${a.failures.map((f) => `- ${f}`).join("\n") || "- (gates not run)"}` +
        "\nTry a different approach.",
    );
  }
  parts.push("Make the failing checks pass with the smallest safe change, then call finish.");
  return parts.join("\n\n");
}

export interface TestPromptInput {
  task: Task;
  /** The target with its uncovered lines marked, an existing test as the style to follow (test-evidence.ts). */
  evidence: EvidenceSection[];
  avoid: string[];
  similar?: string[];
  goal?: string;
  previous: PreviousAttempt[];
}

/** The first prompt of a test-adding task: the target, its uncovered lines, an example test, what was tried. */
export function buildTestPrompt(p: TestPromptInput): string {
  const parts: string[] = [];
  if (p.goal) parts.push(`Campaign goal: ${p.goal}`);
  parts.push(
    `Task: ${p.task.title}\nTarget: ${p.task.target}${p.task.detail ? `\nDetail: ${cap(cleanDetail(p.task.detail), MAX_DETAIL)}` : ""}`,
  );
  for (const e of p.evidence) parts.push(`${e.title}:\n\n${e.body}`);
  if (p.avoid.length)
    parts.push(
      `Tests already tried for this target that were NOT kept (do not repeat them):\n${p.avoid.map((a) => `- ${a}`).join("\n")}`,
    );
  if (p.similar?.length)
    parts.push(`Lessons from similar past tasks:\n${p.similar.map((a) => `- ${a}`).join("\n")}`);
  for (const a of p.previous)
    parts.push(
      `Previous attempt ${a.attempt} in this cycle (its files were removed) ended by ${a.stopReason}.` +
        `\nIts summary: ${a.summary ?? "(none)"}\nFiles it wrote: ${a.filesChanged.join(", ") || "(none)"}` +
        `\nWhat failed after it:\n${a.failures.map((f) => `- ${f}`).join("\n") || "- (gates not run)"}`,
    );
  parts.push(
    "Add one new test file that covers the unexecuted lines of the target with assertions on their results, then call finish.",
  );
  return parts.join("\n\n");
}
