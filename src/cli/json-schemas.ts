import { z } from "zod";
import { UsageAnalysisSchema } from "../analysis/usage-types.js";
import { STOP_REASONS } from "../campaign/stop-conditions.js";
import { DECISIONS } from "../core/types.js";
import { HarnessReportSchema } from "../harness/run.js";
import { CAMPAIGN_STATES, StatusSchema } from "../status/schema.js";

/**
 * The `--json` output of every command, one zod schema each (tests/cli-json.test.ts validates the real CLI's output
 * against them; README "Machine-readable output" describes them). With --json, stdout is JSON lines: a stream's
 * events (`run`, `demo`: campaign events; `gates`: one `gate_run` per gate run), then exactly one last line, the
 * command's result `{type: "result", command, exitCode, …}` or, when it failed, `{type: "error", …}`. The
 * `exitCode` of that last line is the process's exit code (README "Exit codes").
 */

/** Exit codes (src/core/errors.ts ExitCode): 0 done, 1 checks failed, 2 bad input, 3 stopped by a limit, 4 tool error. */
const code = <const C extends readonly number[]>(...codes: C) =>
  z.union(codes.map((c) => z.literal(c)) as unknown as [z.ZodLiteral<C[number]>]);

/** A command's result line: strict at the top, so a field no schema names is caught by the tests. */
function result<const C extends string, S extends z.ZodRawShape>(
  command: C,
  exitCode: z.ZodType<number>,
  shape: S,
) {
  return z.strictObject({ type: z.literal("result"), command: z.literal(command), exitCode, ...shape });
}

/** The last line when a command failed (any command): exit code 2 for bad input, 4 when the tool failed, 3 stopped. */
export const ErrorJson = z.strictObject({
  type: z.literal("error"),
  command: z.string(),
  exitCode: code(1, 2, 3, 4),
  error: z.string(),
  message: z.string(),
  hint: z.string().optional(),
});

const Check = z.object({
  gate: z.string(),
  id: z.string(),
  status: z.enum(["pass", "fail", "skip", "flaky"]),
  message: z.string().optional(),
});
const GateResult = z.object({
  treeHash: z.string(),
  startedAt: z.string(),
  durationMs: z.number(),
  runs: z.array(
    z.object({
      gate: z.string(),
      checks: z.array(Check),
      durationMs: z.number(),
      cached: z.boolean().optional(),
      scope: z.enum(["targeted", "full"]).optional(),
      error: z.string().optional(),
    }),
  ),
});
const GateSummary = z.object({
  testsPassed: z.number(),
  testsFailed: z.number(),
  testsSkipped: z.number(),
  lintErrors: z.number(),
  flaky: z.number(),
  cachedGates: z.number(),
});
const Snapshot = z.object({
  name: z.string(),
  commit: z.string(),
  tree: z.string(),
  createdAt: z.string(),
  tag: z.string(),
  archive: z.string().optional(),
});
const Sandbox = z.object({ id: z.string(), path: z.string(), baseCommit: z.string(), createdAt: z.string() });
const Counts = z.strictObject({
  cycles: z.number().int().nonnegative(),
  promoted: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
});
/** What a campaign run ends with (`run`, `demo`). */
const CampaignSummary = {
  campaignId: z.string().min(1),
  reason: z.enum(STOP_REASONS),
  counts: Counts,
  reportPath: z.string().nullable(),
};
/** A subject the harnesses leave uncovered (`harness gaps`). */
const CoverageGap = z.looseObject({ kind: z.string(), subject: z.string(), reason: z.string() });
const CoverageTotals = z.strictObject({
  statements: z.number().int(),
  covered: z.number().int(),
  branches: z.number().int(),
  coveredBranches: z.number().int(),
  percent: z.number(),
});
const CoverageRow = z.strictObject({
  name: z.string(),
  kind: z.enum(["module", "transformer", "pattern"]),
  file: z.string(),
  /** The functions or class a transformer / pattern counts. */
  regions: z.array(z.string()).optional(),
  statements: z.number().int(),
  covered: z.number().int(),
  branches: z.number().int(),
  coveredBranches: z.number().int(),
  percent: z.number(),
  /** Lines never run, as ranges ("3-5, 9"). */
  uncovered: z.string(),
});
/** The package's line and branch coverage (src/harness/coverage.ts), null before it was measured. */
const CoverageSummary = z.strictObject({
  measuredBy: z.string(),
  treeHash: z.string(),
  measuredAt: z.string(),
  totals: CoverageTotals,
});
const ReportPaths = z.strictObject({ campaignId: z.string(), reportPath: z.string(), htmlPath: z.string() });

/** One JSON line per campaign event (`run`, `demo`), before the result. */
export const CampaignEventJson = z.discriminatedUnion("type", [
  z.object({ type: z.literal("log"), at: z.string(), message: z.string() }),
  z.object({
    type: z.literal("cycle"),
    at: z.string(),
    cycle: z.number(),
    index: z.number(),
    of: z.number(),
    /** The worker slot running the cycle (`run --workers N`, N > 1). */
    worker: z.number().optional(),
  }),
  z.object({
    type: z.literal("step"),
    at: z.string(),
    cycle: z.number(),
    step: z.string(),
    data: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({
    type: z.literal("decision"),
    at: z.string(),
    cycle: z.number(),
    task: z.string(),
    action: z.enum(DECISIONS),
    reason: z.string(),
  }),
  z.object({ type: z.literal("end"), at: z.string(), reason: z.enum(STOP_REASONS), exitCode: code(0, 3) }),
]);

/** One JSON line per gate run of `gates`, before the result. */
export const GateRunEventJson = z.strictObject({
  type: z.literal("gate_run"),
  at: z.string(),
  target: z.enum(["master", "sandbox"]),
  gate: z.string(),
  scope: z.enum(["targeted", "full"]),
  checks: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  cached: z.boolean(),
});

/** Each command's result line, by the command's name as typed ("sandbox create"). */
export const JSON_RESULTS = {
  init: result("init", code(0), {
    root: z.string(),
    sacred: z.string(),
    master: z.string(),
    head: z.string(),
    profile: z.string(),
  }),
  /** A campaign that ran to its end; with `--detach`, the background process started (its pid, where its log is). */
  run: z.union([
    result("run", code(0, 3), CampaignSummary),
    result("run", code(0), {
      detached: z.literal(true),
      pid: z.number().int(),
      campaign: z.string().nullable(),
      log: z.string().nullable(),
      output: z.string(),
    }),
  ]),
  demo: result("demo", code(0, 3), {
    ...CampaignSummary,
    root: z.string(),
    sacred: z.string(),
    snapshots: z.array(Snapshot),
  }),
  stop: result("stop", code(0), {
    requested: z.literal(true),
    running: z.boolean(),
    campaignId: z.string().nullable(),
  }),
  status: result("status", code(0), {
    root: z.string(),
    sacred: z.string(),
    profile: z.string(),
    master: z.strictObject({ path: z.string(), head: z.string(), dirty: z.number() }),
    snapshots: z.number(),
    lastSnapshot: z.string().nullable(),
    sandboxes: z.array(z.string()),
    campaign: StatusSchema.extend({
      effective_status: z.enum(CAMPAIGN_STATES),
      note: z.string().nullable(),
    }).nullable(),
    /** The line and branch coverage of the package (`harness gaps --coverage`, a campaign's coverage tier). */
    coverage: CoverageSummary.nullable(),
    /** The harnesses (odibi), null before `harness generate`. */
    harness: z
      .strictObject({
        odibiVersion: z.string(),
        harnesses: z.number().int(),
        gaps: z.number().int(),
        lastRun: z
          .strictObject({
            at: z.string(),
            passed: z.number().int(),
            total: z.number().int(),
            findings: z.number().int(),
            transformers: z.string(),
          })
          .nullable(),
      })
      .nullable(),
  }),
  report: result("report", code(0), { reports: z.array(ReportPaths) }),
  "harness generate": result("harness generate", code(0), {
    odibiVersion: z.string(),
    dir: z.string(),
    harnesses: z.array(z.string()),
    gaps: z.array(CoverageGap),
  }),
  "harness gaps": result("harness gaps", code(0), {
    /** Null without harnesses (a python repository: coverage only). */
    odibiVersion: z.string().nullable(),
    gaps: z.array(CoverageGap),
    failing: HarnessReportSchema.shape.harnesses,
    coverage: CoverageSummary.extend({
      modules: z.array(CoverageRow),
      subjects: z.array(CoverageRow),
    }).nullable(),
  }),
  /** Findings are failing checks: exit 1. */
  "harness validate": result("harness validate", code(0, 1), HarnessReportSchema.shape),
  "harness run": result("harness run", code(0, 1), HarnessReportSchema.shape),
  /** The usage analysis (reports/usage_analysis.json's content) and where its reports are. */
  analyze: result("analyze", code(0), {
    report: z.string(),
    json: z.string(),
    analysis: UsageAnalysisSchema,
  }),
  /** Printed once the dashboard listens; the command then serves until Ctrl-C. */
  ui: result("ui", code(0), { url: z.string(), port: z.number().int(), root: z.string() }),
  /** Ends when stopped (SIGINT/SIGTERM) or when no coordinator published by --wait-seconds; refused: exit 2. */
  worker: result("worker", code(0), { jobs: z.number().int() }),
  campaigns: result("campaigns", code(0), {
    campaigns: z.array(
      z.strictObject({
        campaignId: z.string(),
        startedAt: z.string(),
        counts: Counts,
        reportPath: z.string(),
      }),
    ),
  }),
  export: result("export", code(0), { dir: z.string(), patches: z.array(z.string()), commits: z.number() }),
  apply: result("apply", code(0), {
    branch: z.string(),
    commits: z.number(),
    head: z.string(),
    unchanged: z.boolean(),
  }),
  resync: result("resync", code(0), {
    base: z.string(),
    previousBase: z.string(),
    inSacred: z.array(z.string()),
    kept: z.array(z.string()),
    dropped: z.array(z.object({ commit: z.string(), subject: z.string(), reason: z.string() })),
    snapshot: z.string().optional(),
    head: z.string(),
  }),
  snapshot: result("snapshot", code(0), Snapshot.shape),
  snapshots: result("snapshots", code(0), { snapshots: z.array(Snapshot) }),
  rollback: result("rollback", code(0), { snapshot: Snapshot, safety: Snapshot }),
  "sandbox create": result("sandbox create", code(0), Sandbox.shape),
  "sandbox destroy": result("sandbox destroy", code(0), { destroyed: z.string() }),
  "sandbox list": result("sandbox list", code(0), { sandboxes: z.array(Sandbox) }),
  schema: result("schema", code(0), { schema: z.record(z.string(), z.unknown()) }),
  doctor: result("doctor", code(0, 1), {
    ok: z.boolean(),
    checks: z.array(
      z.strictObject({
        name: z.string(),
        ok: z.boolean(),
        version: z.string().optional(),
        where: z.string().optional(),
        install: z.string().optional(),
        required: z.boolean(),
        profiles: z.array(z.string()).optional(),
      }),
    ),
  }),
  setup: result("setup", code(0), {
    venv: z.string(),
    python: z.string(),
    binDir: z.string(),
    hasOdibi: z.boolean(),
    odibiSource: z.string().optional(),
  }),
  gates: z.discriminatedUnion("target", [
    result("gates", code(0, 1), {
      target: z.literal("master"),
      result: GateResult,
      summary: GateSummary,
    }),
    result("gates", code(0, 1), {
      target: z.literal("sandbox"),
      sandbox: z.string(),
      changedFiles: z.array(z.string()),
      baseline: GateResult,
      result: GateResult,
      summary: GateSummary,
      verdict: z.object({
        promotable: z.boolean(),
        newFailures: z.array(Check),
        fixed: z.array(Check),
        stillFailing: z.array(Check),
        flaky: z.array(Check),
        notRun: z.array(z.string()),
        targetFixed: z.boolean().optional(),
        reason: z.string(),
      }),
    }),
  ]),
} as const;

export type JsonCommand = keyof typeof JSON_RESULTS;

/** The stream events a command writes before its result (none for the others). */
export const JSON_EVENTS: Partial<Record<JsonCommand, z.ZodType>> = {
  run: CampaignEventJson,
  demo: CampaignEventJson,
  gates: GateRunEventJson,
};
