import { z } from "zod";
import { DECISIONS, decisionWord, type Lesson } from "../core/types.js";
import { LessonSchema } from "../memory/types.js";
import { CAMPAIGN_STATES, CoverageStatusSchema, StatusSchema } from "../status/schema.js";

/**
 * `<root>/events.jsonl`: what a campaign did, one JSON line per event, appended and fsynced. status.json and the
 * resume journal are derived from it (reducers.ts). `v` is the format version; a reader skips a line it cannot
 * parse (a torn last line, or a newer writer's event).
 */
export const EVENTS_VERSION = 1;

/** How many failing checks a Master gate run lists in its event (the rest are counted). */
export const MAX_FAILING_LISTED = 500;

/** The journaled steps of a cycle: each is an event, so a run killed at any point can be recovered and resumed. */
export const CYCLE_STEPS = [
  "cycle_start",
  "sandbox_created",
  "gates_before",
  "work_found",
  "attempt_done",
  "decided",
  "snapshot_done",
  "promote_begin",
  "promote_done",
  "lesson_recorded",
  "report_written",
  "cycle_end",
] as const;
export type CycleStep = (typeof CYCLE_STEPS)[number] | "campaign_start" | "campaign_end" | "recovered";

/** An entry of the resume journal (derived by `reduceJournal`; written as `journal.jsonl` by older versions). */
export const JournalEntrySchema = z.object({
  at: z.string(),
  campaign: z.string(),
  cycle: z.int().nonnegative(),
  step: z.enum([...CYCLE_STEPS, "campaign_start", "campaign_end", "recovered"]),
  data: z.record(z.string(), z.unknown()).optional(),
});
export type JournalEntry = z.infer<typeof JournalEntrySchema>;

const head = { v: z.literal(EVENTS_VERSION), at: z.string(), campaign: z.string() };
const cycle = z.int().nonnegative();
const data = z.record(z.string(), z.unknown());

export const EventSchema = z.discriminatedUnion("type", [
  /** A run of the campaign began; `resume` continues the counters of the status before it. */
  z.object({
    ...head,
    type: z.literal("campaign_start"),
    resume: z.boolean(),
    pid: z.int(),
    host: z.string(),
    isolation_warning: z.string().nullable(),
    /** The run's limits (for the dashboard's progress bars); absent in logs written before them. */
    limits: z.object({ max_cycles: z.number(), max_hours: z.number() }).optional(),
  }),
  /** A journaled cycle step (the resume journal is made of these). */
  z.object({ ...head, type: z.literal("step"), cycle, step: z.enum(CYCLE_STEPS), data: data.optional() }),
  /** What the run is doing now, between journaled steps (status.json's `step`); not journaled. */
  z.object({ ...head, type: z.literal("phase"), cycle: cycle.optional(), name: z.string() }),
  /**
   * One gate run, summarised (label: `before` for Master's baseline in a cycle, `final` for Master at the end,
   * `after-<approach>` for a candidate). A run on Master also names its failing checks (the first
   * `MAX_FAILING_LISTED`), its flaky checks and the failures that want a dependency: the campaign report's
   * regressions, flaky checks and environment failures are derived from these.
   */
  z.object({
    ...head,
    type: z.literal("gate_run"),
    cycle,
    label: z.string(),
    master: z
      .object({
        failing: z.array(z.object({ gate: z.string(), id: z.string(), message: z.string().optional() })),
        failing_total: z.int().nonnegative(),
        flaky: z.array(z.object({ gate: z.string(), id: z.string() })),
        environment: z.array(z.object({ gate: z.string(), id: z.string(), needs: z.string() })),
      })
      .optional(),
    gates: z.array(
      z.object({
        gate: z.string(),
        passed: z.number(),
        failed: z.number(),
        skipped: z.number(),
        flaky: z.number(),
        error: z.string().optional(),
        durationMs: z.number().optional(),
        cached: z.boolean().optional(),
        scope: z.literal("targeted").optional(),
      }),
    ),
  }),
  /** What an LLM attempt spent. */
  z.object({
    ...head,
    type: z.literal("model_call"),
    cycle,
    model: z.string(),
    tokens: z.number().nonnegative(),
    cost_usd: z.number().nonnegative(),
  }),
  /** A cycle's decision (`task` null: the cycle found no work; older logs wrote "(none)"). */
  z.object({
    ...head,
    type: z.literal("decision"),
    cycle,
    task: z.string().nullable(),
    /** The one decision vocabulary; a log written before it (promote / reject / none) is read in today's words. */
    action: z.preprocess((v) => decisionWord(v) ?? v, z.enum(DECISIONS)),
    reason: z.string(),
  }),
  /** Discovered issues the cycle's discovery found not to be work, by reason. */
  z.object({
    ...head,
    type: z.literal("not_work"),
    cycle,
    groups: z.array(
      z.object({
        reason: z.string(),
        count: z.int().nonnegative(),
        items: z.array(z.object({ title: z.string(), why: z.string() })),
      }),
    ),
  }),
  /** Open items no approach of the campaign can take (no fixer applies, no LLM configured): the first ones listed. */
  z.object({
    ...head,
    type: z.literal("waiting"),
    cycle,
    total: z.int().nonnegative(),
    items: z.array(z.object({ title: z.string(), kind: z.string(), target: z.string() })),
  }),
  /** The package's coverage, measured (or read from the cache) for the coverage tier of a cycle. */
  z.object({
    ...head,
    type: z.literal("coverage"),
    cycle,
    coverage: CoverageStatusSchema,
  }),
  /** A lesson recorded in memory (as memory stores it). */
  z.object({
    ...head,
    type: z.literal("lesson"),
    cycle,
    lesson: z.custom<Lesson>((v) => LessonSchema.safeParse(v).success),
  }),
  /** The signatures memory avoids now. */
  z.object({ ...head, type: z.literal("avoided"), signatures: z.array(z.string()) }),
  /** Recovery closed a cycle a killed run left open. */
  z.object({ ...head, type: z.literal("recovered"), cycle, data }),
  /** A run ended: its stop reason, or the error that ended it (`failed`). */
  z.object({
    ...head,
    type: z.literal("campaign_end"),
    state: z.enum(CAMPAIGN_STATES).exclude(["running"]),
    reason: z.string(),
    error: z.boolean().optional(),
  }),
  /** A root written before the event log: its status.json and journal.jsonl, taken over once. */
  z.object({
    ...head,
    type: z.literal("imported"),
    status: StatusSchema.nullable(),
    journal: z.array(JournalEntrySchema),
  }),
]);
export type LogEvent = z.infer<typeof EventSchema>;
/** An event as a writer gives it: the log adds the version and the time. */
export type NewLogEvent = LogEvent extends infer E
  ? E extends LogEvent
    ? Omit<E, "v" | "at">
    : never
  : never;
