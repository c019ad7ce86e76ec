import { z } from "zod";
import { PROFILES } from "../core/types.js";
import { LLM_PROVIDERS } from "../llm/providers/index.js";
import type { RequirableGate } from "./required-gates.js";

/**
 * The environment's configuration (`<root>/config.yaml`), roadmap E0.2 plus `profile` and the sections later
 * features fill. Every object is strict: an unknown key is an error with its line and column (typos must not
 * silently disable a gate).
 */

const command = z.string().min(1, "a command must not be empty");

// Bounds: a value outside them is a typo or a unit mistake (minutes for hours, ms for s), never a wish.
const DAY_SECONDS = 86_400;
const WEEK_HOURS = 168;
const MAX_CYCLES = 100_000;
const MAX_ATTEMPTS = 100;
/** The most candidates a campaign works on at once (`run --workers`). */
export const MAX_WORKERS = 64;
/** The largest sensible value of each campaign limit (command-line flags are held to the same bounds). */
export const CAMPAIGN_LIMITS = {
  maxCycles: MAX_CYCLES,
  maxHours: WEEK_HOURS,
  convergence: MAX_CYCLES,
  maxAttempts: MAX_ATTEMPTS,
  workers: MAX_WORKERS,
} as const;
/** Seconds, more than 0 and at most a day. */
const seconds = () => z.number().positive().max(DAY_SECONDS, `at most ${DAY_SECONDS} (one day, in seconds)`);
/** Hours of a campaign, more than 0 and at most a week. */
const hours = () => z.number().positive().max(WEEK_HOURS, `at most ${WEEK_HOURS} (one week, in hours)`);
/** A count of cycles, 1 to 100000. */
const cycles = () => z.int().min(1).max(MAX_CYCLES);
/** LLM attempts per cycle, 0 (none) to 100. */
const attempts = () => z.int().min(0).max(MAX_ATTEMPTS);

// Descriptions (`.describe`) reach the JSON Schema, so editors show them on hover and in completion.

export const EnvironmentSection = z
  .strictObject({
    version: z.string().default("1.0.0").describe("Version of this environment's layout."),
    created_at: z.string().optional().describe("When `init` created the environment (ISO 8601)."),
  })
  .describe("About the environment itself; written by `init`.");

export const SourceSection = z
  .strictObject({
    sacred_repo: z
      .string()
      .min(1)
      .describe(
        "Path to your repository (Sacred). Read only; `odibi-improve apply` adds a branch to it when you run it. Windows drive paths (D:/odibi) are fine.",
      ),
    auto_reset_master: z
      .literal(false)
      .default(false)
      .describe("Always false: resetting Master from Sacred is a human decision."),
  })
  .describe("Where Master came from.");

export const GatesSection = z
  .strictObject({
    required: z
      .array(z.string().min(1))
      .optional()
      .describe(
        "The gates a candidate must pass, by name (odibi: lint, validate, tests, golden; the others: lint, tests). " +
          "Unset: all of the profile's gates. A gate not listed does not run.",
      ),
    // The require_* keys: aliases of listing (true) or leaving out (false) one gate in `required`; unset, the
    // gate's default. See src/config/required-gates.ts.
    require_ruff_clean: z
      .boolean()
      .optional()
      .describe("Alias: true lists the lint gate (commands.lint) in gates.required, false leaves it out."),
    require_pytest_pass: z
      .boolean()
      .optional()
      .describe("Alias: true lists the tests gate (commands.test) in gates.required, false leaves it out."),
    require_odibi_validate: z
      .boolean()
      .optional()
      .describe(
        "Alias: true lists the validate gate (`odibi validate` of each golden project) in gates.required.",
      ),
    require_golden_projects: z
      .boolean()
      .optional()
      .describe("Alias: true lists the golden gate (`odibi run` of each golden project) in gates.required."),
    mode: z
      .enum(["baseline", "strict"])
      .default("baseline")
      .describe(
        "baseline: Master's known failures are tolerated (ratchet). strict: everything must be green.",
      ),
    flake_reruns: z
      .int()
      .min(0)
      .max(10)
      .default(2)
      .describe("Extra runs of a failing check to tell a flake from a real failure."),
    cache: z
      .boolean()
      .default(true)
      .describe("Reuse gate results for an unchanged tree (tree hash + command + tools)."),
    timeout_seconds: seconds().default(1800).describe("Time limit of one gate command."),
    parallel_tests: z
      .enum(["auto", "on", "off"])
      .default("auto")
      .describe(
        "pytest-xdist (`-n auto`) for full test runs. auto: when Master's suite gives the same per-test results " +
          "in parallel as serially (checked once per change of its tests or configuration). on/off: forced.",
      ),
    test_selection: z
      .enum(["coverage", "files"])
      .default("coverage")
      .describe(
        "How the targeted step picks tests: coverage (the tests whose lines the candidate changed, from a " +
          "per-test coverage map of Master built once per Master tree) or files (changed test files and tests " +
          "importing changed modules). The full suite decides every promotion either way.",
      ),
  })
  .describe("What a candidate must pass to reach Master.");

export const StopConditionsSection = z
  .strictObject({
    max_cycles: cycles().default(10).describe("Stop after this many cycles."),
    max_hours: hours().default(4).describe("Stop after this many hours (checked inside steps too)."),
    convergence_cycles: cycles()
      .default(3)
      .describe("Stop after this many cycles in a row that learned nothing."),
  })
  .describe("When a campaign ends (command-line flags override).");

export const NotifySection = z
  .strictObject({
    command: command
      .optional()
      .describe(
        "Run at the end of every campaign run (no shell): the summary as JSON on stdin, and ODIBI_IMPROVE_CAMPAIGN, _STATUS, _REASON, _REPORT.",
      ),
    webhook: z
      .url({ protocol: /^https?$/, error: "a webhook is an http(s) URL" })
      .optional()
      .describe("POST the summary as JSON to this URL at the end of every campaign run."),
    timeout_s: seconds().default(30).describe("How long the command or the webhook may take."),
  })
  .describe("Tell someone when a campaign run ends (a failure is logged, never fails the campaign).");

export const CommandsSection = z
  .strictObject({
    test: command
      .optional()
      .describe('The test command, e.g. "python -m pytest -q". `python` is the venv\'s.'),
    lint: command.optional().describe('The lint command, e.g. "python -m ruff check odibi".'),
    validate: command.optional().describe("`{file}` is replaced by each golden/harness config."),
    run: command.optional().describe("`{config}` is replaced by each golden project config."),
    format: command.optional().describe('The formatter, e.g. "python -m ruff format".'),
    format_check: command
      .optional()
      .describe(
        'The formatting check, run by the lint gate after `lint` (each file it would reformat is a finding), e.g. "ruff format --check odibi tests".',
      ),
    fix: z.array(command).optional().describe("Deterministic fixers, run in order before any LLM."),
  })
  .describe("The profile's commands; each one set here overrides the profile's default.");

export const PythonSection = z
  .strictObject({
    extras: z
      .array(z.string().min(1, "an extra's name must not be empty"))
      .optional()
      .describe(
        "The repository's extras (pyproject `[project.optional-dependencies]`) installed for the gates (odibi profile). " +
          "Unset: those providing modules the tests use that can be installed here (`doctor` lists them).",
      ),
  })
  .describe("The repository's Python dependencies as the gates install them.");

export const SnapshotsSection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe("Snapshot Master before each promotion (git tag snapshot/<name>)."),
    max_snapshots: z.int().min(1).default(10).describe("How many snapshots to keep (oldest removed first)."),
    compress: z.boolean().default(true).describe("Also write <root>/snapshots/<name>.tar.gz."),
  })
  .describe("Rollback points of Master.");

export const LlmSection = z
  .strictObject({
    provider: z
      .enum(LLM_PROVIDERS)
      .optional()
      .describe("Which provider. Unset: no LLM (deterministic fixers only)."),
    model: z
      .string()
      .default("gpt-4o-mini")
      .describe("Model (Azure: the deployment unless llm.azure.deployment is set)."),
    base_url: z
      .string()
      .optional()
      .describe("The provider's base URL (Ollama, a proxy, an OpenAI-compatible server)."),
    api_key_env: z
      .string()
      .optional()
      .describe(
        "Name of the environment variable holding the key. The key itself is never written to a file.",
      ),
    max_attempts: attempts().default(3).describe("LLM attempts per cycle."),
    max_steps: z.int().min(1).max(1000).default(30).describe("Model turns (tool calls) per attempt."),
    attempt_timeout_seconds: seconds().default(600).describe("Wall time of one attempt."),
    max_attempt_tokens: z
      .int()
      .positive()
      .default(300_000)
      .describe("Tokens (input + output, summed over its requests) after which an attempt ends."),
    request_timeout_seconds: seconds().default(120).describe("Time limit of one model request."),
    max_retries: z
      .int()
      .min(0)
      .max(10)
      .default(3)
      .describe("Retries of one model request on 429 / 5xx / timeout, with exponential backoff."),
    max_tokens: z.int().positive().optional().describe("Token budget of the whole campaign."),
    max_cost_usd: z.number().positive().optional().describe("Money budget of the whole campaign (USD)."),
    prices: z
      .record(z.string(), z.strictObject({ input: z.number().min(0), output: z.number().min(0) }))
      .optional()
      .describe("USD per million tokens, per model; overrides the built-in table."),
    azure: z
      .strictObject({
        resource_name: z.string().optional().describe("The Azure OpenAI resource (or set llm.base_url)."),
        deployment: z.string().optional().describe("The deployment name."),
        api_version: z.string().optional().describe("The API version."),
      })
      .optional()
      .describe("Azure OpenAI settings."),
  })
  .describe("The LLM brain (tried after the deterministic fixers).");

export const PolicySection = z
  .strictObject({
    protected_paths: z
      .array(z.string())
      .default([])
      .describe("Globs no candidate may touch, added to the built-in list (CI files, lock files, golden…)."),
    forbidden_connections: z
      .array(z.string())
      .default(["s3", "gcs", "boto3", "google.cloud"])
      .describe("Imports, dependencies, connection types and URIs a candidate may not add."),
    allow_new_features: z
      .boolean()
      .default(false)
      .describe("Allow new transformers, patterns, CLI commands, connection types or public modules."),
    max_files_changed: z.int().positive().default(20).describe("Largest candidate, in files."),
    max_lines_changed: z.int().positive().default(500).describe("Largest candidate, in changed lines."),
  })
  .describe("Rules every candidate's diff is checked against before anything runs.");

/** How the promotion queue verifies candidates (src/campaign/promotion-queue.ts). */
export const VERIFICATIONS = ["candidate", "batch"] as const;

export const CampaignSection = z
  .strictObject({
    workers: z
      .int()
      .min(1)
      .max(MAX_WORKERS)
      .default(1)
      .describe("Tasks worked on at once, each in its own sandbox (`run --workers`); one promotion queue."),
    verification: z
      .enum(VERIFICATIONS)
      .default("candidate")
      .describe(
        "candidate: each candidate gated fully before it queues; batch: the targeted step, then one full run per batch of queued candidates (bisected on failure).",
      ),
    goal: z.string().optional().describe("What the campaign should aim for (given to the LLM)."),
    focus_transformers: z.array(z.string()).default([]).describe("Transformers whose work comes first."),
    focus_patterns: z.array(z.string()).default([]).describe("Patterns whose work comes first."),
    llm: z
      .boolean()
      .default(true)
      .describe("Use the LLM when one is configured (false = deterministic fixers only)."),
    // The roadmap's CampaignConfig names (see campaign-aliases.ts): folded into stop_conditions, gates and llm.
    max_cycles: cycles().optional().describe("Roadmap name; overrides stop_conditions.max_cycles."),
    max_hours: hours().optional().describe("Roadmap name; overrides stop_conditions.max_hours."),
    convergence_threshold: cycles()
      .optional()
      .describe("Roadmap name; overrides stop_conditions.convergence_cycles."),
    require_tests_pass: z.boolean().optional().describe("Roadmap name; overrides gates.require_pytest_pass."),
    require_lint_clean: z.boolean().optional().describe("Roadmap name; overrides gates.require_ruff_clean."),
    require_golden_pass: z
      .boolean()
      .optional()
      .describe("Roadmap name; overrides gates.require_golden_projects."),
    enable_llm_improvements: z.boolean().optional().describe("Roadmap name; overrides campaign.llm."),
    max_improvement_attempts_per_cycle: attempts()
      .optional()
      .describe("Roadmap name; overrides llm.max_attempts."),
    llm_model: z.string().optional().describe("Roadmap name; overrides llm.model."),
  })
  .describe("The campaign: goal, focus, and the roadmap's CampaignConfig names.");

/** The names `profile:` accepts: the built-in profiles' and any src/profiles `registerProfile` adds. */
const profileNames = new Set<string>(PROFILES);
/** Each profile's gates as src/profiles registered them: `gates.required` is checked against them at load. */
const gatesOfProfiles = new Map<string, readonly RequirableGate[]>();

/**
 * Accept `name` as a profile (src/profiles registers every profile, built-in or `registerProfile`d) and, when
 * given, its gates: config.yaml's `gates.required` and `require_*` keys are then checked against them at load.
 */
export function acceptProfileName(name: string, gates?: readonly RequirableGate[]): void {
  profileNames.add(name);
  if (gates) gatesOfProfiles.set(name, gates);
}

/** The gates registered for the profile `name` (undefined: none registered, e.g. src/profiles not loaded). */
export function registeredGates(name: string): readonly RequirableGate[] | undefined {
  return gatesOfProfiles.get(name);
}

export const ConfigSchema = z
  .strictObject({
    environment: EnvironmentSection.prefault({}),
    source: SourceSection,
    profile: z
      .string()
      .refine((name) => profileNames.has(name), {
        error: () => `Invalid option: expected one of ${[...profileNames].map((n) => `"${n}"`).join("|")}`,
      })
      .meta({ enum: [...PROFILES] })
      .default("generic")
      .describe("Which gates and default commands: odibi, python, node, go, rust, generic (commands only)."),
    gates: GatesSection.prefault({}),
    stop_conditions: StopConditionsSection.prefault({}),
    notify: NotifySection.prefault({}),
    commands: CommandsSection.prefault({}),
    python: PythonSection.prefault({}),
    snapshots: SnapshotsSection.prefault({}),
    llm: LlmSection.prefault({}),
    policy: PolicySection.prefault({}),
    campaign: CampaignSection.prefault({}),
    isolation: z
      .enum(["bwrap", "none", "auto"])
      .default("auto")
      .describe(
        "How commands that run repository code are jailed. none must be chosen explicitly (warned about).",
      ),
  })
  .describe("odibi-improve environment configuration (<root>/config.yaml).");

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** JSON Schema for editors (`odibi-improve schema`). */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(ConfigSchema, { io: "input", target: "draft-2020-12" });
}
