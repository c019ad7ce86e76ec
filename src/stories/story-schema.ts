import { z } from "zod";

/**
 * What we read from an odibi run story (`<story dir>/<pipeline>/<date>/run_<time>.json`, written by
 * odibi's story generator from `PipelineStoryMetadata.to_dict()`). Only the fields we use are declared; the
 * rest (samples, schemas, config snapshots, …) passes through untouched. Numbers odibi leaves null when a node
 * never got that far are nullable here.
 */
const count = z.number().int().nonnegative();
const optCount = count.nullish();
const optText = z.string().nullish();

export const StoryNodeSchema = z.looseObject({
  node_name: z.string().min(1),
  operation: optText,
  /** odibi writes "success", "failed" or "skipped" (story/metadata.py). */
  status: z.string().min(1),
  /** Seconds. */
  duration: z.number().nonnegative().nullish(),
  rows_in: optCount,
  rows_out: optCount,
  rows_written: optCount,
  error_type: optText,
  error_message: optText,
  error_traceback: optText,
  error_traceback_cleaned: optText,
  execution_steps: z.array(z.string()).nullish(),
  /** The registered functions a node's `transform.steps` ran, in order; null for a SQL step (odibi 3.x). */
  transformation_stack: z.array(z.string().nullable()).nullish(),
  /** The SQL of each step, the SQL transformers generate included. */
  executed_sql: z.array(z.string()).nullish(),
  /**
   * The node's config as odibi saw it (`transformer`, `params`, `transform.steps`); null for a node that failed
   * before it was recorded. Older odibi versions wrote it as a Python repr string: read as absent then.
   */
  config_snapshot: z.unknown().optional(),
  /**
   * One entry per attempt (odibi's node.py). odibi 3.15 leaves the node's own `error_traceback` empty and keeps the
   * traceback here, on the attempt that failed.
   */
  retry_history: z
    .array(z.looseObject({ error_traceback: optText, error_traceback_cleaned: optText }))
    .nullish(),
});

export const StorySchema = z.looseObject({
  pipeline_name: z.string().min(1),
  pipeline_layer: optText,
  project: optText,
  run_id: z.string().min(1),
  started_at: optText,
  completed_at: optText,
  /** Seconds. */
  duration: z.number().nonnegative(),
  total_nodes: count,
  completed_nodes: count,
  failed_nodes: count,
  skipped_nodes: count,
  /** Percent, 0–100. */
  success_rate: z.number().min(0).max(100),
  total_rows_processed: optCount,
  nodes: z.array(StoryNodeSchema),
});

export type RawStory = z.output<typeof StorySchema>;
export type RawStoryNode = z.output<typeof StoryNodeSchema>;
