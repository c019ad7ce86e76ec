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
export type TaskKind = "failure" | "harness" | "discovered" | "coverage";

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

export type Outcome = "promoted" | "rejected" | "no_change" | "error";

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
