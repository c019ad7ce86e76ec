import { z } from "zod";

/**
 * `<root>/status.json` (roadmap E3.3 plus the current step, liveness and LLM spend). snake_case as in the roadmap
 * because humans and other tools read this file directly. Loose so a newer writer's extra field does not make an
 * older reader fail.
 */

export const CAMPAIGN_STATES = ["running", "completed", "stopped", "failed", "crashed"] as const;
export type CampaignState = (typeof CAMPAIGN_STATES)[number];

export const CurrentStepSchema = z.object({
  name: z.string(),
  since: z.string(),
  cycle: z.int().nonnegative().optional(),
  detail: z.string().optional(),
});
export type CurrentStep = z.infer<typeof CurrentStepSchema>;

/** A coverage measure, as status.json and the `coverage` event hold it. */
export const CoverageStatusSchema = z.object({
  at: z.string(),
  /** Master's tree hash it was measured on. */
  tree: z.string(),
  /** "tests + harnesses", "tests only (…)". */
  measured_by: z.string(),
  percent: z.number(),
  lines: z.object({ covered: z.int().nonnegative(), total: z.int().nonnegative() }),
  branches: z.object({ covered: z.int().nonnegative(), total: z.int().nonnegative() }),
  /** The coverage tasks it gave (the least covered parts). */
  tasks: z.int().nonnegative(),
});
export type CoverageStatus = z.infer<typeof CoverageStatusSchema>;

export const StatusSchema = z.looseObject({
  campaign_id: z.string().min(1),
  status: z.enum(CAMPAIGN_STATES),
  started_at: z.string(),
  updated_at: z.string(),
  finished_at: z.string().nullable().default(null),
  current_cycle: z.int().nonnegative(),
  cycles_completed: z.int().nonnegative(),
  improvements_promoted: z.int().nonnegative(),
  improvements_rejected: z.int().nonnegative(),
  /** Commits on Master since Sacred (each promotion is one). */
  master_changes: z.int().nonnegative(),
  last_promotion: z.string().nullable(),
  /** Consecutive cycles that learned nothing (convergence when it reaches the threshold). */
  convergence_counter: z.int().nonnegative(),
  issues_avoided: z.array(z.string()),
  elapsed_hours: z.number().nonnegative(),
  step: CurrentStepSchema.nullable(),
  pid: z.int(),
  host: z.string(),
  heartbeat_at: z.string(),
  stop_reason: z.string().nullable(),
  isolation_warning: z.string().nullable(),
  llm: z.object({ tokens: z.number().nonnegative(), cost_usd: z.number().nonnegative() }),
  /** The package's line + branch coverage when the campaign last measured it (its coverage tier), else null. */
  coverage: CoverageStatusSchema.nullable().default(null),
});
export type CampaignStatus = z.infer<typeof StatusSchema>;
