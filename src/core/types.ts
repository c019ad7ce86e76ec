/**
 * The shared vocabulary. No dependencies: every module may import this, it imports nothing.
 */

export type CheckStatus = "pass" | "fail" | "skip" | "flaky";

export type GateName = "policy" | "lint" | "validate" | "tests" | "golden" | (string & {});

/** One structured check: a test id, a lint rule at file:line, a validation error, a golden node. */
export interface Check {
  gate: GateName;
  /** Stable id within the gate, e.g. `tests/test_x.py::test_y`, `F401:src/a.py:3`, `golden:hello/node_a`. */
  id: string;
  status: CheckStatus;
  /** Short human message (error type + message for failures). */
  message?: string;
  /** e.g. error class, lint rule code. */
  errorType?: string;
  file?: string;
  line?: number;
  column?: number;
  /** Longer detail: traceback, captured output (capped). */
  detail?: string;
  durationMs?: number;
  /** The tool can fix this by itself, safely (ruff: a fix with "safe" applicability). Unknown when absent. */
  autofix?: boolean;
}

export interface GateRun {
  gate: GateName;
  command?: string;
  checks: Check[];
  durationMs: number;
  /** True when the result came from the tree-hash cache. */
  cached?: boolean;
  /** `targeted`: only the target and the tests touching the change ran (the cascade's cheap step). Default full. */
  scope?: "targeted" | "full";
  /** Set when the gate itself could not run (tool missing, crash, timeout). Also appears as a failing check. */
  error?: string;
}

export interface GateResult {
  treeHash: string;
  runs: GateRun[];
  startedAt: string;
  durationMs: number;
}

/**
 * What a task is: a failing check of the gates, a harness finding (an odibi harness that fails or writes wrong
 * output, src/harness/), an issue discovery found in the code, or a coverage gap (a test-adding task).
 */
export type TaskKind = "failure" | "harness" | "discovered" | "coverage" | "usage" | "feature";

/** A unit of work a cycle tries to do. */
export interface Task {
  kind: TaskKind;
  /** Target: a check id, or a file:line. */
  target: string;
  title: string;
  /** Stable failure signature (see memory/signature). */
  signature: string;
  gate?: GateName;
  file?: string;
  line?: number;
  detail?: string;
  /** Copied from the check: a deterministic fixer can fix it. */
  autofix?: boolean;
}

/**
 * The one decision vocabulary: what became of a cycle's candidate, in `--json` output, the event log, campaign
 * records, reports and lessons alike.
 */
export const DECISIONS = ["promoted", "rejected", "no_change"] as const;
export type DecisionWord = (typeof DECISIONS)[number];

/** Words older records and event logs used for a decision (promote / reject / none; reports: NO CHANGE). */
const OLD_DECISION_WORDS: Record<string, DecisionWord> = {
  promote: "promoted",
  reject: "rejected",
  none: "no_change",
  "no change": "no_change",
};

/** A decision as recorded, in today's words (older records are read as they were meant); undefined if unknown. */
export function decisionWord(word: unknown): DecisionWord | undefined {
  if (typeof word !== "string") return undefined;
  const w = word.toLowerCase();
  return (DECISIONS as readonly string[]).includes(w) ? (w as DecisionWord) : OLD_DECISION_WORDS[w];
}

/** A lesson's outcome: a decision, or an attempt that ended in an error. */
export type Outcome = DecisionWord | "error";

export interface Lesson {
  campaignId: string;
  cycleId: string;
  task: Pick<Task, "kind" | "target" | "signature" | "title">;
  approach: { kind: "fixer" | "llm"; name: string; summary?: string; diffHash?: string };
  outcome: Outcome;
  gate?: GateName;
  reason?: string;
  files: string[];
  at: string;
  tokens?: number;
  costUsd?: number;
}

/** The built-in profiles' names, for config.yaml's schema: one plugin each under src/profiles/ (a test checks). */
export const PROFILES: readonly string[] = ["odibi", "python", "node", "go", "rust", "generic"];
