import { z } from "zod";

/** The usage analysis as `reports/usage_analysis.json` holds it (and `analyze --json` prints it). */

export const StoryExampleSchema = z.object({ pipeline: z.string(), file: z.string() });

export const CommonPatternSchema = z.object({
  /** The operations in order: transformers, patterns, functions and `sql` for a SQL step. */
  sequence: z.array(z.string()),
  /** Runs (stories) it appears in. */
  count: z.number().int(),
  pipelines: z.array(z.string()),
  examples: z.array(StoryExampleSchema),
});

export const FailureClusterSchema = z.object({
  /** Stable over runs: the error type and masked message (`usage:<hash>`). */
  signature: z.string(),
  errorType: z.string(),
  /** The message's first line with paths, quoted names and numbers masked. */
  message: z.string(),
  /** Failed nodes in the cluster. */
  count: z.number().int(),
  stories: z.number().int(),
  firstSeen: z.string().optional(),
  lastSeen: z.string().optional(),
  /** `<pipeline>/<node>`, at most 20. */
  nodes: z.array(z.string()),
  transformers: z.array(z.string()),
  pipelines: z.array(z.string()),
  example: StoryExampleSchema.extend({ node: z.string(), message: z.string() }),
  /** A representative traceback: the first one recorded. */
  traceback: z.string().optional(),
});

export const TransformerSuggestionSchema = z.object({
  /** chain: transformers that recur together; sql: SQL steps that do what a built-in transformer does. */
  kind: z.enum(["chain", "sql"]),
  signature: z.string(),
  title: z.string(),
  sequence: z.array(z.string()).optional(),
  transformer: z.string().optional(),
  count: z.number().int(),
  pipelines: z.array(z.string()),
  evidence: z.array(z.string()),
});

export const SkippedStorySchema = z.object({ file: z.string(), problem: z.string() });

export const UsageAnalysisSchema = z.object({
  generatedAt: z.string(),
  /** The folders read. */
  sources: z.array(z.string()),
  stories: z.number().int(),
  nodes: z.number().int(),
  failedNodes: z.number().int(),
  /** JSON files under the folders that are not run stories (odibi's lineage files, indexes). */
  otherFiles: z.number().int(),
  /** Malformed stories, named and skipped. */
  skipped: z.array(SkippedStorySchema),
  /** How often each operation ran (nodes and steps). */
  operations: z.record(z.string(), z.number().int()),
  patterns: z.array(CommonPatternSchema),
  failures: z.array(FailureClusterSchema),
  suggestions: z.array(TransformerSuggestionSchema),
  durationMs: z.number(),
});

export type StoryExample = z.infer<typeof StoryExampleSchema>;
export type CommonPattern = z.infer<typeof CommonPatternSchema>;
export type FailureCluster = z.infer<typeof FailureClusterSchema>;
export type TransformerSuggestion = z.infer<typeof TransformerSuggestionSchema>;
export type SkippedStory = z.infer<typeof SkippedStorySchema>;
export type UsageAnalysis = z.infer<typeof UsageAnalysisSchema>;
