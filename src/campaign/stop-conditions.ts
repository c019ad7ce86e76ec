import { ExitCode } from "../core/errors.js";

/** Why a campaign ended (shown in status.json and the campaign report). */
export const STOP_REASONS = [
  "STOPPED",
  "BUDGET_EXHAUSTED",
  "TIME_BUDGET_EXHAUSTED",
  "MAX_CYCLES_REACHED",
  "NO_WORK",
  "CONVERGED",
] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/** Recorded facts; the runner gathers them between cycles (and between steps, for time and stop requests). */
export interface StopFacts {
  cyclesCompleted: number;
  maxCycles: number;
  elapsedMs: number;
  maxHours: number;
  /** Consecutive completed cycles that learned nothing. */
  consecutiveNoLearning: number;
  convergenceThreshold: number;
  /** `odibi-improve stop`, or a signal (SIGINT, SIGTERM, SIGHUP, SIGBREAK). */
  stopRequested: boolean;
  /** False when the last cycle found nothing to work on; undefined before the first cycle. */
  lastCycleFoundWork?: boolean;
  spentUsd?: number;
  maxCostUsd?: number;
  tokensUsed?: number;
  maxTokens?: number;
}

/**
 * The first stop condition that holds, or null to go on. Order: a human's request first, then hard limits
 * (money, time, cycles), then the campaign's own judgement (nothing to do, nothing learned).
 */
export function checkStop(f: StopFacts): StopReason | null {
  if (f.stopRequested) return "STOPPED";
  if (f.maxCostUsd !== undefined && (f.spentUsd ?? 0) >= f.maxCostUsd) return "BUDGET_EXHAUSTED";
  if (f.maxTokens !== undefined && (f.tokensUsed ?? 0) >= f.maxTokens) return "BUDGET_EXHAUSTED";
  if (timeLeftMs(f) <= 0) return "TIME_BUDGET_EXHAUSTED";
  if (f.cyclesCompleted >= f.maxCycles) return "MAX_CYCLES_REACHED";
  if (f.lastCycleFoundWork === false) return "NO_WORK";
  if (f.consecutiveNoLearning >= f.convergenceThreshold) return "CONVERGED";
  return null;
}

/** Time left in the budget. A step started with time left may run to its own timeout, never longer. */
export function timeLeftMs(f: Pick<StopFacts, "elapsedMs" | "maxHours">): number {
  return f.maxHours * 3_600_000 - f.elapsedMs;
}

/** CONVENTIONS exit codes: the campaign finishing its work is 0; being cut short by a limit or a stop is 3. */
export function exitCodeForStop(reason: StopReason): ExitCode {
  return reason === "CONVERGED" || reason === "NO_WORK" ? ExitCode.ok : ExitCode.limit;
}

/** The status.json state a stop reason leaves. */
export function statusForStop(reason: StopReason): "completed" | "stopped" {
  return reason === "STOPPED" ? "stopped" : "completed";
}
