import type { DecisionWord, Task } from "../core/types.js";
import type { CampaignState } from "./schema.js";

/** Data the report renderers take. Plain JSON-able values; the runner gathers them, `reports.ts` only renders. */

export interface GateSummary {
  gate: string;
  passed: number;
  failed: number;
  skipped: number;
  flaky: number;
  /** The gate could not run (tool missing, crash, timeout). */
  error?: string;
  durationMs?: number;
  cached?: boolean;
  /** Only the target and the tests touching the change ran (the cascade's cheap step); absent for a full run. */
  scope?: "targeted";
}

export interface CheckRef {
  gate: string;
  id: string;
  message?: string;
}

/** A cycle's decision as reports show it: the one vocabulary (core/types.ts DECISIONS). */
export type ReportAction = DecisionWord;

/** Discovered issues that are not work, for one reason (campaign/discover.ts): counted, the first ones listed. */
export interface NotWorkGroup {
  reason: string;
  count: number;
  items: { title: string; why: string }[];
}

export interface CycleReportData {
  campaignId: string;
  cycle: number;
  startedAt: string;
  finishedAt?: string;
  /** null: the cycle found no work. */
  task: Task | null;
  approach?: { kind: "fixer" | "llm"; name: string; summary?: string };
  /** Master's gates before the cycle (the baseline) and the candidate's after; null when not run. */
  gatesBefore: GateSummary[] | null;
  gatesAfter: GateSummary[] | null;
  /** Failures the candidate introduced (outside the baseline). */
  newFailures?: CheckRef[];
  /** Oracle paths (tests, test and checker configuration) put back to Master's before the gates judged the candidate. */
  oracleRestored?: string[];
  /** The candidate's unified diff against Master (capped when rendered). */
  diff?: string;
  /** Changed files the task does not name, nor lie in a named file's folder (candidate-checks.ts): for review. */
  unrelatedFiles?: string[];
  decision: { action: ReportAction; reason: string };
  /** Snapshot taken of Master before the promotion, and the promoted commit. */
  snapshot?: string;
  commit?: string;
  /** Trajectory files of the LLM attempts, as paths relative to the report's folder. */
  trajectories?: string[];
  llm?: { tokens: number; costUsd: number };
  /** Discovered issues this cycle's discovery found not to be work, by reason. */
  notWork?: NotWorkGroup[];
  /** A test-adding task's new tests and what the assured filters measured of them. */
  testsAdded?: TestsAdded;
}

/**
 * A test-adding candidate (task kind `coverage`) as the assured filters measured it (src/campaign/assure-tests.ts):
 * its new test files, the target's line coverage before and after them, the mutants of the target and whether the
 * new tests killed each.
 */
export interface TestsAdded {
  tests: string[];
  target: string;
  /** Lines of the target executed by Master's suite (`before`) and with the new tests (`after`), of `statements`. */
  coverage?: {
    statements: number;
    before: number;
    after: number;
    gained: number[];
    /** Branches (coverage.py's arcs between lines) taken, of `total`, before and after. */
    branches?: { total: number; before: number; after: number };
  };
  mutants?: { kind: string; line: number; description: string; killed: boolean }[];
}

export interface PassCount {
  passed: number;
  total: number;
}

export interface DiffStat {
  filesChanged: number;
  insertions: number;
  deletions: number;
  /** `git diff --stat` text, shown fenced. */
  stat?: string;
}

export interface PromotionEntry {
  cycle: number;
  title: string;
  at: string;
  snapshot?: string;
  commit?: string;
  /** What the promoted cycle spent on the LLM (absent when no LLM ran in it, e.g. a fixer's promotion). */
  llm?: { tokens: number; costUsd: number };
  /** A promoted test-adding candidate: its tests and the coverage they gained. */
  testsAdded?: TestsAdded;
}

export interface CycleEntry {
  cycle: number;
  task: string | null;
  action: ReportAction;
  reason: string;
}

export interface CampaignReportData {
  campaignId: string;
  status: CampaignState;
  stopReason: string | null;
  startedAt: string;
  finishedAt: string | null;
  elapsedHours: number;
  cyclesCompleted: number;
  improvementsPromoted: number;
  improvementsRejected: number;
  /** Cycles run when the campaign converged (stop reason CONVERGED), else null. */
  cyclesToConvergence: number | null;
  /** Test results on Master at the start (the first baseline) and at the end. */
  tests: { before: PassCount | null; after: PassCount | null };
  lintErrors: { before: number | null; after: number | null };
  /**
   * odibi's transformers whose harness passed in the last `harness run` / all its transformers (src/harness/run.ts
   * transformerCoverage); null when no harness ran.
   */
  harnessCoverage: PassCount | null;
  /**
   * The package's line + branch coverage by its tests and the harness runs (src/harness/coverage.ts), with how many
   * transformers and patterns any of them ran; null (row not shown) when never measured.
   */
  packageCoverage?: {
    percent: number;
    measuredBy: string;
    subjects: { exercised: number; total: number } | null;
  } | null;
  /** Checks that passed at the start and fail at the end (must be none). */
  regressions: CheckRef[];
  /** What the campaign changed in Master: before its first promotion → its last one. */
  masterDiff: DiffStat | null;
  promotions: PromotionEntry[];
  cycles: CycleEntry[];
  avoidedIssues: { signature: string; title: string; failures: number; lastReason?: string }[];
  flakyChecks: { gate: string; id: string; occurrences: number }[];
  /** Failing checks on Master that need a dependency installed, not a code change (not worked on). */
  environmentFailures?: { gate: string; id: string; needs: string }[];
  /** Discovered issues the latest discovery on Master found not to be work, by reason. */
  notWork?: NotWorkGroup[];
  /** Open items no approach of this campaign could take (no fixer applies, no LLM): left for a model or a human. */
  waiting?: { total: number; items: { title: string; kind: string; target: string }[] };
  /** Isolation, memory and other warnings the user should see. */
  warnings?: string[];
  llm?: { tokens: number; costUsd: number };
}
