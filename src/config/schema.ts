import { z } from "zod";
import { PROFILES } from "../core/types.js";

/**
 * The environment's configuration (`<root>/config.yaml`), roadmap E0.2 plus `profile` and the sections later
 * features fill. Every object is strict: an unknown key is an error with its line and column (typos must not
 * silently disable a gate).
 */

const command = z.string().min(1, "a command must not be empty");

export const EnvironmentSection = z.strictObject({
  version: z.string().default("1.0.0"),
  created_at: z.string().optional(),
});

export const SourceSection = z.strictObject({
  /** Path to the user's repository. Read, never written. Windows drive paths (`D:/odibi`) are fine. */
  sacred_repo: z.string().min(1),
  /** Never automatic: resetting Master from Sacred is always a human decision. */
  auto_reset_master: z.literal(false).default(false),
});

export const GatesSection = z.strictObject({
  require_ruff_clean: z.boolean().default(true),
  require_pytest_pass: z.boolean().default(true),
  require_odibi_validate: z.boolean().default(true),
  require_golden_projects: z.boolean().default(true),
  /** baseline: Master's known failures are tolerated (ratchet). strict: everything must be green. */
  mode: z.enum(["baseline", "strict"]).default("baseline"),
  /** Extra runs of a failing check to tell a flake from a real failure. */
  flake_reruns: z.int().min(0).max(10).default(2),
  /** Reuse gate results for an unchanged tree. */
  cache: z.boolean().default(true),
  /** Per gate command. */
  timeout_seconds: z.number().positive().default(1800),
});

export const StopConditionsSection = z.strictObject({
  max_cycles: z.int().min(1).default(10),
  max_hours: z.number().positive().default(4),
  convergence_cycles: z.int().min(1).default(3),
});

export const CommandsSection = z.strictObject({
  test: command.optional(),
  lint: command.optional(),
  /** `{file}` is replaced by each golden/harness config. */
  validate: command.optional(),
  /** `{config}` is replaced by each golden project config. */
  run: command.optional(),
  format: command.optional(),
  /** Deterministic fixers, run in order before any LLM. */
  fix: z.array(command).optional(),
});

export const SnapshotsSection = z.strictObject({
  enabled: z.boolean().default(true),
  max_snapshots: z.int().min(1).default(10),
  compress: z.boolean().default(true),
});

export const LlmSection = z.strictObject({
  provider: z.enum(["openai", "azure", "anthropic", "ollama", "openai-compatible"]).optional(),
  model: z.string().default("gpt-4o-mini"),
  base_url: z.string().optional(),
  /** Name of the environment variable holding the key. The key itself is never written to a file. */
  api_key_env: z.string().optional(),
  max_attempts: z.int().min(0).default(3),
  max_steps: z.int().min(1).default(30),
  attempt_timeout_seconds: z.number().positive().default(600),
  request_timeout_seconds: z.number().positive().default(120),
  /** Retries of one model request on 429 / 5xx / timeout, with exponential backoff. */
  max_retries: z.int().min(0).max(10).default(3),
  max_tokens: z.int().positive().optional(),
  max_cost_usd: z.number().positive().optional(),
  /** USD per million tokens, per model; overrides the built-in table. */
  prices: z
    .record(z.string(), z.strictObject({ input: z.number().min(0), output: z.number().min(0) }))
    .optional(),
  azure: z
    .strictObject({
      resource_name: z.string().optional(),
      deployment: z.string().optional(),
      api_version: z.string().optional(),
    })
    .optional(),
});

export const PolicySection = z.strictObject({
  protected_paths: z.array(z.string()).default([]),
  forbidden_connections: z.array(z.string()).default(["s3", "gcs", "boto3", "google.cloud"]),
  allow_new_features: z.boolean().default(false),
  max_files_changed: z.int().positive().default(20),
  max_lines_changed: z.int().positive().default(500),
});

export const CampaignSection = z.strictObject({
  goal: z.string().optional(),
  focus_transformers: z.array(z.string()).default([]),
  focus_patterns: z.array(z.string()).default([]),
  llm: z.boolean().default(true),
  // The roadmap's CampaignConfig names (see campaign-aliases.ts): folded into stop_conditions, gates and llm.
  max_cycles: z.int().positive().optional(),
  max_hours: z.number().positive().optional(),
  convergence_threshold: z.int().positive().optional(),
  require_tests_pass: z.boolean().optional(),
  require_lint_clean: z.boolean().optional(),
  require_golden_pass: z.boolean().optional(),
  enable_llm_improvements: z.boolean().optional(),
  max_improvement_attempts_per_cycle: z.int().min(0).optional(),
  llm_model: z.string().optional(),
});

export const ConfigSchema = z.strictObject({
  environment: EnvironmentSection.prefault({}),
  source: SourceSection,
  profile: z.enum(PROFILES).default("generic"),
  gates: GatesSection.prefault({}),
  stop_conditions: StopConditionsSection.prefault({}),
  commands: CommandsSection.prefault({}),
  snapshots: SnapshotsSection.prefault({}),
  llm: LlmSection.prefault({}),
  policy: PolicySection.prefault({}),
  campaign: CampaignSection.prefault({}),
  isolation: z.enum(["bwrap", "none", "auto"]).default("auto"),
});

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** JSON Schema for editors (`odibi-improve schema`). */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(ConfigSchema, { io: "input", target: "draft-2020-12" });
}
