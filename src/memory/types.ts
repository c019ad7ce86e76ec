import { z } from "zod";
import { DECISIONS, type Lesson } from "../core/types.js";

/**
 * Record shapes of the three memory files. Objects are loose so a record written by a newer version (an additive
 * field) is still read by an older one.
 */

export const LessonSchema = z.looseObject({
  campaignId: z.string(),
  cycleId: z.string(),
  task: z.looseObject({
    kind: z.enum(["failure", "harness", "discovered", "coverage", "usage", "feature"]),
    target: z.string(),
    signature: z.string(),
    title: z.string(),
  }),
  approach: z.looseObject({
    kind: z.enum(["fixer", "llm"]),
    name: z.string(),
    summary: z.string().optional(),
    diffHash: z.string().optional(),
  }),
  outcome: z.enum([...DECISIONS, "error"]),
  gate: z.string().optional(),
  reason: z.string().optional(),
  files: z.array(z.string()),
  at: z.string(),
  tokens: z.number().optional(),
  costUsd: z.number().optional(),
}) satisfies z.ZodType<Lesson>;

/** A way of fixing something that got promoted: preferred next time a similar task comes up. */
export const PatternSchema = z.looseObject({
  signature: z.string(),
  taskKind: z.string(),
  title: z.string(),
  approach: z.string(),
  summary: z.string().optional(),
  files: z.array(z.string()),
  campaignId: z.string(),
  cycleId: z.string(),
  at: z.string(),
});
export type Pattern = z.infer<typeof PatternSchema>;

/** A failure signature memory says to leave alone: it has failed `failures` times. */
export const AvoidedIssueSchema = z.looseObject({
  signature: z.string(),
  title: z.string(),
  target: z.string(),
  failures: z.number(),
  approaches: z.array(z.string()),
  lastReason: z.string().optional(),
  at: z.string(),
});
export type AvoidedIssue = z.infer<typeof AvoidedIssueSchema>;

export interface SimilarLesson {
  lesson: Lesson;
  score: number;
}

/** What find-work needs from memory; CampaignMemory implements it. */
export interface AvoidanceOracle {
  shouldAvoid(signature: string): boolean;
}
