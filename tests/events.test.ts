import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DECISIONS, decisionWord, SacredViolation } from "../src/core/index.js";
import { SacredGuard } from "../src/environment/sacred.js";
import { masterRegressions, reduceCampaigns, summaryPassCount } from "../src/events/campaigns.js";
import { EventLog, readEvents } from "../src/events/log.js";
import { openCampaignState } from "../src/events/read-model.js";
import { nextCycleNumber, reduceJournal, reduceStatus, runningHours } from "../src/events/reducers.js";
import { EVENTS_VERSION, EventSchema, type LogEvent } from "../src/events/schema.js";
import { runProcess } from "../src/exec/run-process.js";
import { StatusSchema } from "../src/status/schema.js";
import { tempDir } from "./helpers.js";

function setup() {
  const root = tempDir();
  const sacred = path.join(root, "sacred");
  mkdirSync(sacred);
  return { root, guard: new SacredGuard(sacred), sacred };
}

/** An event at `min` minutes after 22:00. */
const at = (min: number) => new Date(Date.parse("2025-12-16T22:00:00.000Z") + min * 60_000).toISOString();
const ev = (min: number, e: Record<string, unknown>): LogEvent =>
  EventSchema.parse({ v: EVENTS_VERSION, at: at(min), campaign: "c1", ...e });

const start = (min: number, resume = false, campaign = "c1") =>
  ev(min, {
    type: "campaign_start",
    campaign,
    resume,
    pid: 42,
    host: "h",
    isolation_warning: "bwrap missing",
  });
const step = (min: number, cycle: number, s: string, data?: Record<string, unknown>) =>
  ev(min, { type: "step", cycle, step: s, ...(data ? { data } : {}) });
const cycleEnd = (min: number, cycle: number, d: Record<string, unknown>) => step(min, cycle, "cycle_end", d);

/** A campaign_start as a writer gives it. */
const startOf = (campaign: string, pid = 1) =>
  ({ type: "campaign_start", campaign, resume: false, pid, host: "h", isolation_warning: null }) as const;

/** A run whose first cycle promoted. */
const promotedOnce = () => [
  start(0),
  step(1, 1, "cycle_start"),
  cycleEnd(2, 1, { promoted: true, learned: true }),
];

const lesson = {
  campaignId: "c1",
  cycleId: "cycle_001",
  task: { kind: "failure", target: "t", signature: "s", title: "fix t" },
  approach: { kind: "fixer", name: "ruff" },
  outcome: "promoted",
  files: ["a.py"],
  at: at(1),
};

const ONE_OF_EACH: LogEvent[] = [
  start(0),
  step(1, 1, "cycle_start"),
  ev(1, { type: "phase", cycle: 1, name: "gates_before" }),
  ev(2, {
    type: "gate_run",
    cycle: 1,
    label: "before",
    gates: [{ gate: "lint", passed: 1, failed: 2, skipped: 0, flaky: 0 }],
  }),
  ev(3, { type: "model_call", cycle: 1, model: "m", tokens: 10, cost_usd: 0.5 }),
  ev(4, { type: "decision", cycle: 1, task: "fix t", action: "promoted", reason: "all gates pass" }),
  ev(4, {
    type: "not_work",
    cycle: 1,
    groups: [
      { reason: "deliberate guard", count: 1, items: [{ title: "NotImplementedError", why: "a guard" }] },
    ],
  }),
  ev(4, { type: "waiting", cycle: 1, total: 1, items: [{ title: "fix it", kind: "failure", target: "t" }] }),
  ev(4, {
    type: "coverage",
    cycle: 1,
    coverage: {
      at: at(4),
      tree: "abc",
      measured_by: "tests only",
      percent: 61.5,
      lines: { covered: 8, total: 10 },
      branches: { covered: 1, total: 3 },
      tasks: 2,
    },
  }),
  ev(4, { type: "lesson", cycle: 1, lesson }),
  ev(4, { type: "avoided", signatures: ["sig"] }),
  ev(5, { type: "recovered", cycle: 1, data: { interruptedAt: "decided" } }),
  ev(6, { type: "campaign_end", state: "completed", reason: "CONVERGED" }),
  ev(0, {
    type: "imported",
    status: null,
    journal: [{ at: at(0), campaign: "c0", cycle: 3, step: "cycle_end" }],
  }),
];

describe("event schema", () => {
  it("round-trips every kind of event through a JSON line, and refuses what is not an event", () => {
    const kinds = new Set(ONE_OF_EACH.map((e) => e.type));
    expect(kinds.size).toBe(EventSchema.options.length);
    for (const e of [...ONE_OF_EACH, cycleEnd(7, 1, { promoted: true })])
      expect(EventSchema.parse(JSON.parse(JSON.stringify(e)))).toEqual(e);
    expect(EventSchema.safeParse({ ...ONE_OF_EACH[0], v: 2 }).success).toBe(false);
    expect(EventSchema.safeParse({ ...ONE_OF_EACH[0], type: "nonsense" }).success).toBe(false);
    expect(EventSchema.safeParse({ ...step(1, 1, "cycle_start"), step: "not_a_step" }).success).toBe(false);
    const lessonEvent = ONE_OF_EACH.find((e) => e.type === "lesson")!;
    expect(EventSchema.safeParse({ ...lessonEvent, lesson: { outcome: "promoted" } }).success).toBe(false);
  });
});

describe("reduceStatus", () => {
  it.each([
    { name: "nothing before a campaign starts", events: [], want: null },
    {
      name: "a start",
      events: [start(0)],
      want: {
        campaign_id: "c1",
        status: "running",
        current_cycle: 0,
        pid: 42,
        host: "h",
        step: null,
        isolation_warning: "bwrap missing",
      },
    },
    {
      name: "a cycle's steps and phases name the step",
      events: [start(0), step(1, 1, "cycle_start"), ev(3, { type: "phase", cycle: 1, name: "gates_before" })],
      want: {
        current_cycle: 1,
        step: { name: "gates_before", since: at(3), cycle: 1 },
        elapsed_hours: 0.05,
        updated_at: at(3),
      },
    },
    {
      name: "promoted, rejected and idle cycles; LLM spend; avoided signatures",
      events: [
        start(0),
        step(1, 1, "cycle_start"),
        cycleEnd(30, 1, { promoted: true, rejected: false, learned: true }),
        step(31, 2, "cycle_start"),
        cycleEnd(32, 2, { promoted: false, rejected: true, learned: false }),
        step(33, 3, "cycle_start"),
        cycleEnd(34, 3, { promoted: false, rejected: false, learned: false, masterChanges: 4 }),
        ev(35, { type: "model_call", cycle: 3, model: "m", tokens: 1200, cost_usd: 0.01 }),
        ev(36, { type: "model_call", cycle: 3, model: "m", tokens: 800, cost_usd: 0.02 }),
        ev(36, { type: "avoided", signatures: ["sig_a"] }),
      ],
      want: {
        current_cycle: 3,
        cycles_completed: 3,
        improvements_promoted: 1,
        improvements_rejected: 1,
        master_changes: 4,
        last_promotion: at(30),
        convergence_counter: 2,
        issues_avoided: ["sig_a"],
        llm: { tokens: 2000, cost_usd: 0.03 },
      },
    },
    {
      name: "an interrupted cycle is not counted",
      events: [start(0), step(1, 1, "cycle_start"), cycleEnd(2, 1, { interrupted: "STOPPED" })],
      want: { cycles_completed: 0, convergence_counter: 0 },
    },
    {
      name: "the end",
      events: [start(0), ev(60, { type: "campaign_end", state: "completed", reason: "CONVERGED" })],
      want: {
        status: "completed",
        stop_reason: "CONVERGED",
        finished_at: at(60),
        elapsed_hours: 1,
        step: null,
      },
    },
    {
      name: "a resumed run keeps counters and start time; a new campaign starts afresh",
      events: [
        ...promotedOnce(),
        ev(3, { type: "campaign_end", state: "failed", reason: "boom", error: true }),
        start(60, true),
      ],
      want: {
        status: "running",
        cycles_completed: 1,
        improvements_promoted: 1,
        started_at: at(0),
        elapsed_hours: 0.05, // the first run's 3 minutes; the 57 between the runs are not running time
        stop_reason: null,
        finished_at: null,
      },
    },
    {
      name: "the last coverage measure",
      events: [start(0), ONE_OF_EACH.find((e) => e.type === "coverage")!],
      want: { coverage: { percent: 61.5, tree: "abc", tasks: 2, lines: { covered: 8, total: 10 } } },
    },
    {
      name: "a new campaign after another",
      events: [...promotedOnce(), start(60, false, "c2")],
      want: { campaign_id: "c2", cycles_completed: 0, improvements_promoted: 0, started_at: at(60) },
    },
  ])("$name", ({ events, want }) => {
    const s = reduceStatus(events as LogEvent[]);
    if (want === null) return expect(s).toBeNull();
    expect(StatusSchema.parse(s)).toMatchObject(want);
    if ("llm" in want) expect(s!.llm.cost_usd).toBeCloseTo(0.03);
  });

  it("takes an imported status as it was, and a resume continues it", () => {
    const old = reduceStatus([
      start(0),
      step(1, 7, "cycle_start"),
      cycleEnd(2, 7, { promoted: true, learned: true }),
    ])!;
    const imported = ev(10, { type: "imported", status: old, journal: [] });
    expect(reduceStatus([imported])).toEqual(old); // its heartbeat too: it tells whether that run is alive
    expect(reduceStatus([imported, start(20, true)])).toMatchObject({
      current_cycle: 7,
      cycles_completed: 1,
      pid: 42,
    });
  });
});

describe("runningHours", () => {
  const end = (min: number, reason = "STOPPED") =>
    ev(min, { type: "campaign_end", state: "stopped", reason });
  const recovered = (min: number, lessonRecovered: boolean) =>
    ev(min, {
      type: "recovered",
      cycle: 1,
      data: { interruptedAt: "promote_begin", promoted: true, lessonRecovered },
    });
  const lessonAt = (min: number) => ev(min, { type: "lesson", cycle: 1, lesson: { ...lesson, at: at(min) } });
  const imported = (hours: number) =>
    ev(0, { type: "imported", status: { ...reduceStatus([start(0)])!, elapsed_hours: hours }, journal: [] });
  it.each([
    { name: "no campaign", events: [], hours: 0 },
    {
      name: "a run so far: its start to its last event",
      events: [start(0), step(30, 1, "cycle_start")],
      hours: 0.5,
    },
    { name: "a run that ended", events: [start(0), end(90)], hours: 1.5 },
    {
      name: "a stopped run resumed hours later: the downtime is not counted",
      events: [start(0), end(30), start(600, true), step(615, 1, "cycle_start")],
      hours: 0.75,
    },
    {
      name: "a killed run resumed: its span ends at its last event",
      events: [start(0), step(1, 1, "cycle_start"), step(60, 1, "gates_before"), start(900, true), end(930)],
      hours: 1.5,
    },
    {
      name: "what recovery appends before the resumed start (a recovered lesson, the recovered event) is not counted",
      events: [
        start(0),
        step(1, 1, "cycle_start"),
        step(30, 1, "promote_begin"),
        lessonAt(500),
        recovered(500, true),
        start(501, true),
        step(531, 2, "cycle_start"),
      ],
      hours: 1,
    },
    {
      name: "a recovery without a lesson after a run's own lesson: the run's lesson counts",
      events: [start(0), lessonAt(30), recovered(500, false), start(501, true)],
      hours: 0.5,
    },
    {
      name: "a new campaign starts from 0",
      events: [start(0), end(60), start(120, false, "c2"), step(135, 1, "cycle_start")],
      hours: 0.25,
    },
    {
      name: "an imported status's hours, and a resume adds to them",
      events: [imported(2), start(60, true), end(90)],
      hours: 2.5,
    },
    { name: "events before any start are no run's", events: [lessonAt(0), start(10), end(40)], hours: 0.5 },
  ])("$name", ({ events, hours }) => {
    expect(runningHours(events as LogEvent[])).toBeCloseTo(hours, 9);
    if (events.length) expect(reduceStatus(events as LogEvent[])!.elapsed_hours).toBeCloseTo(hours, 9);
  });
});

describe("reduceJournal", () => {
  it("is the journaled steps in order, an imported journal first; other events are not journaled", () => {
    const j = reduceJournal([
      ...ONE_OF_EACH.slice(-1),
      ...ONE_OF_EACH.slice(0, -1),
      ev(7, { type: "campaign_end", state: "failed", reason: "boom", error: true }),
    ]);
    expect(j.map((e) => [e.campaign, e.cycle, e.step, e.data])).toEqual([
      ["c0", 3, "cycle_end", undefined],
      ["c1", 0, "campaign_start", { resume: false }],
      ["c1", 1, "cycle_start", undefined],
      ["c1", 1, "recovered", { interruptedAt: "decided" }],
      ["c1", 0, "campaign_end", { reason: "CONVERGED" }],
      ["c1", 0, "campaign_end", { error: "boom" }],
    ]);
    expect(nextCycleNumber(j)).toBe(4);
    expect(nextCycleNumber([])).toBe(1);
  });
});

describe("EventLog", () => {
  it("appends fsynced lines in order and writes status.json as the reduced status after each event", () => {
    const { root, guard } = setup();
    const log = new EventLog(root, guard);
    expect(existsSync(path.join(root, "events.jsonl"))).toBe(false); // a new root: nothing to take over
    log.append(startOf("c1", 1));
    const statusFile = () => JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
    for (const s of ["cycle_start", "sandbox_created", "gates_before"] as const) {
      log.append({ type: "step", campaign: "c1", cycle: 1, step: s });
      expect(statusFile()).toEqual(reduceStatus(readEvents(log.file).events));
    }
    const { events, skipped } = readEvents(log.file);
    expect(skipped).toBe(0);
    expect(events.map((e) => (e.type === "step" ? e.step : e.type))).toEqual([
      "campaign_start",
      "cycle_start",
      "sandbox_created",
      "gates_before",
    ]);
    expect(new EventLog(root, guard).all).toEqual(events); // a second writer reads the same log
  });

  it("ignores a torn last line and starts the next event on a line of its own", () => {
    const { root, guard } = setup();
    const log = new EventLog(root, guard);
    log.append(startOf("c1", 1));
    appendFileSync(log.file, '{"v":1,"at":"2025-1');
    expect(readEvents(log.file)).toMatchObject({ events: [{ type: "campaign_start" }], skipped: 1 });
    const next = new EventLog(root, guard);
    expect(next.all).toHaveLength(1);
    next.append({ type: "step", campaign: "c1", cycle: 1, step: "cycle_start" });
    expect(readEvents(log.file)).toMatchObject({
      events: [{ type: "campaign_start" }, { step: "cycle_start" }],
      skipped: 1,
    });
  });

  it("has every event on disk when the process is killed right after appending (kill -9)", async () => {
    const { root } = setup();
    const script = `
      import { EventLog } from ${JSON.stringify(path.resolve("dist/events/log.js"))};
      import os from "node:os";
      import { SacredGuard } from ${JSON.stringify(path.resolve("dist/environment/sacred.js"))};
      const log = new EventLog(process.argv[1], new SacredGuard(process.argv[1] + "/sacred"));
      log.append({ type: "campaign_start", campaign: "k", resume: false, pid: process.pid, host: os.hostname(), isolation_warning: null });
      for (const step of ["cycle_start", "sandbox_created", "gates_before", "work_found"])
        log.append({ type: "step", campaign: "k", cycle: 1, step });`;
    const r = await runProcess(process.execPath, ["--input-type=module", "-e", script, root], {
      cwd: root,
      env: { ODIBI_IMPROVE_CRASH_AT: "gates_before" },
    });
    expect(r.signal).toBe("SIGKILL");
    const { events } = readEvents(path.join(root, "events.jsonl"));
    expect(events.map((e) => (e.type === "step" ? e.step : e.type))).toEqual([
      "campaign_start",
      "cycle_start",
      "sandbox_created",
      "gates_before",
    ]);
    expect(openCampaignState(root).status).toMatchObject({
      effective: "crashed",
      status: { step: { name: "gates_before" } },
    });
  });

  it("refuses to write inside Sacred", () => {
    const { guard, sacred } = setup();
    const log = new EventLog(sacred, guard);
    expect(() =>
      log.append({
        type: "campaign_start",
        campaign: "x",
        resume: false,
        pid: 1,
        host: "h",
        isolation_warning: null,
      }),
    ).toThrow(SacredViolation);
  });
});

describe("a root written before the event log", () => {
  /** status.json and journal.jsonl as the previous version wrote them (from this version's events). */
  function oldRoot() {
    const { root, guard } = setup();
    const events = [
      start(0),
      step(1, 4, "cycle_start"),
      cycleEnd(2, 4, { promoted: true, learned: true }),
      step(3, 5, "cycle_start"),
    ];
    const status = reduceStatus(events)!;
    const journal = reduceJournal(events);
    writeFileSync(path.join(root, "status.json"), JSON.stringify(status, null, 2));
    writeFileSync(
      path.join(root, "journal.jsonl"),
      `${journal.map((e) => JSON.stringify(e)).join("\n")}\n{"at":"torn`,
    );
    return { root, guard, status, journal };
  }

  it("is read as it is, without writing", () => {
    const { root, status, journal } = oldRoot();
    const state = openCampaignState(root, { isAlive: () => false });
    expect(state.status?.status).toEqual(status);
    expect(state.journal).toEqual(journal);
    expect(nextCycleNumber(state.journal)).toBe(6);
    expect(existsSync(path.join(root, "events.jsonl"))).toBe(false);
  });

  it("is taken over once by the writer: counters, journal and cycle numbers go on", () => {
    const { root, guard, status, journal } = oldRoot();
    const log = new EventLog(root, guard);
    expect(readEvents(log.file).events).toMatchObject([
      { type: "imported", campaign: "c1", status, journal },
    ]);
    expect(reduceJournal(log.all)).toEqual(journal);
    log.append({
      type: "campaign_start",
      campaign: "c1",
      resume: true,
      pid: 2,
      host: "h",
      isolation_warning: null,
    });
    expect(log.status).toMatchObject({
      cycles_completed: 1,
      current_cycle: 5,
      improvements_promoted: 1,
      pid: 2,
    });
    expect(nextCycleNumber(reduceJournal(log.all))).toBe(6);
    // Opened again: taken over only once.
    expect(new EventLog(root, guard).all.filter((e) => e.type === "imported")).toHaveLength(1);
    expect(openCampaignState(root).status?.status).toEqual(log.status);
  });
});

describe("openCampaignState", () => {
  it("reads status.json, or the reduced status when a kill came between an event and status.json", () => {
    const { root, guard } = setup();
    expect(openCampaignState(root)).toEqual({ events: [], journal: [], status: null });
    const log = new EventLog(root, guard);
    log.append(startOf("c1", process.pid));
    const written = readFileSync(path.join(root, "status.json"), "utf8");
    log.append({ type: "step", campaign: "c1", cycle: 1, step: "cycle_start" });
    writeFileSync(path.join(root, "status.json"), written); // as if killed before status.json was rewritten
    const state = openCampaignState(root);
    expect(state.status?.status).toMatchObject({ current_cycle: 1, step: { name: "cycle_start" } });
    expect(state.journal.map((e) => e.step)).toEqual(["campaign_start", "cycle_start"]);
  });
});

describe("reduceCampaigns (the campaign report's facts)", () => {
  const master = (min: number, cycle: number, label: string, failing: string[], flaky: string[] = []) =>
    ev(min, {
      type: "gate_run",
      cycle,
      label,
      gates: [{ gate: "tests", passed: 10 - failing.length, failed: failing.length, skipped: 0, flaky: 0 }],
      master: {
        failing: failing.map((id) => ({ gate: "tests", id })),
        failing_total: failing.length,
        flaky: flaky.map((id) => ({ gate: "tests", id })),
        environment: [],
      },
    });
  const candidate = (min: number, cycle: number) =>
    ev(min, {
      type: "gate_run",
      cycle,
      label: "after-fixer:ruff",
      gates: [{ gate: "tests", passed: 0, failed: 10, skipped: 0, flaky: 0 }],
    });

  it("derives cycles, promotions with their spend, Master's first and last runs, flaky checks and regressions", () => {
    const events = [
      start(0),
      step(1, 1, "cycle_start"),
      master(2, 1, "before", ["t_old"], ["t_flaky"]),
      step(3, 1, "work_found", { task: "fix t_old" }),
      ev(4, { type: "model_call", cycle: 1, model: "m", tokens: 100, cost_usd: 0.25 }),
      candidate(5, 1),
      step(6, 1, "decided", { action: "promoted", reason: "all gates pass" }),
      step(6, 1, "snapshot_done", { snapshot: "before_cycle_001" }),
      step(7, 1, "promote_done", { commit: "abc123" }),
      cycleEnd(8, 1, { promoted: true, learned: true }),
      ev(8, { type: "decision", cycle: 1, task: "fix t_old", action: "promoted", reason: "all gates pass" }),
      step(9, 2, "cycle_start"),
      master(10, 2, "before", ["t_new"], ["t_flaky"]),
      ev(11, { type: "decision", cycle: 2, task: null, action: "no_change", reason: "nothing to do" }),
      ev(12, { type: "campaign_end", state: "completed", reason: "NO_WORK" }),
      start(20, false, "c2"),
    ];
    const [c1, c2] = reduceCampaigns(events);
    expect(c1).toMatchObject({
      id: "c1",
      startedAt: at(0),
      cycles: [
        { cycle: 1, task: "fix t_old", action: "promoted", reason: "all gates pass" },
        { cycle: 2, task: null, action: "no_change" },
      ],
      promotions: [
        {
          cycle: 1,
          title: "fix t_old",
          snapshot: "before_cycle_001",
          commit: "abc123",
          llm: { tokens: 100 },
        },
      ],
      flaky: [{ gate: "tests", id: "t_flaky", occurrences: 2 }],
      llm: { tokens: 100, costUsd: 0.25 },
    });
    expect(c1!.firstMaster?.failing.map((f) => f.id)).toEqual(["t_old"]);
    expect(c1!.lastMaster?.failing.map((f) => f.id)).toEqual(["t_new"]);
    expect(masterRegressions(c1!.firstMaster, c1!.lastMaster, c1!.flaky)).toEqual([
      { gate: "tests", id: "t_new" },
    ]);
    expect(summaryPassCount(c1!.lastMaster, "tests")).toEqual({ passed: 9, total: 10 });
    expect(summaryPassCount(c1!.lastMaster, "lint")).toBeNull();
    expect(c2).toMatchObject({ id: "c2", cycles: [], promotions: [], firstMaster: null });
  });

  it("completes a cycle a kill interrupted from recovery's event: its promotion and its line", () => {
    const events = [
      start(0),
      step(1, 1, "cycle_start"),
      step(2, 1, "work_found", { task: "fix lint" }),
      step(3, 1, "decided", { action: "promoted", reason: "all gates pass" }),
      step(4, 1, "promote_begin", { previous: "p0" }),
      ev(9, {
        type: "recovered",
        cycle: 1,
        data: { interruptedAt: "promote_begin", promoted: true, commit: "c9" },
      }),
    ];
    expect(reduceCampaigns(events)[0]).toMatchObject({
      promotions: [{ cycle: 1, title: "fix lint", commit: "c9" }],
      cycles: [{ cycle: 1, task: "fix lint", action: "promoted", reason: "all gates pass" }],
    });
  });

  it("reads an older root's journal: its campaign, promotions and finished cycles", () => {
    const journal = [
      { at: at(0), campaign: "old", cycle: 0, step: "campaign_start" as const },
      { at: at(1), campaign: "old", cycle: 1, step: "work_found" as const, data: { task: "F401" } },
      { at: at(2), campaign: "old", cycle: 1, step: "promote_done" as const, data: { commit: "k1" } },
      { at: at(3), campaign: "old", cycle: 1, step: "cycle_end" as const, data: { promoted: true } },
    ];
    const [old] = reduceCampaigns([ev(0, { type: "imported", campaign: "old", status: null, journal })]);
    expect(old).toMatchObject({
      id: "old",
      promotions: [{ cycle: 1, title: "F401", commit: "k1" }],
      cycles: [{ cycle: 1, task: "F401", action: "promoted" }],
    });
  });
});

describe("one decision vocabulary", () => {
  it("reads a decision written in the old words (promote / reject / none) in today's, refuses an unknown one", () => {
    const decided = (action: string) =>
      EventSchema.safeParse({
        v: EVENTS_VERSION,
        at: at(0),
        campaign: "c1",
        type: "decision",
        cycle: 1,
        task: "t",
        action,
        reason: "r",
      });
    const words = ["promote", "reject", "none", "promoted", "rejected", "no_change"].map((w) => {
      const r = decided(w);
      return r.success && r.data.type === "decision" ? r.data.action : "invalid";
    });
    expect(words).toEqual(["promoted", "rejected", "no_change", "promoted", "rejected", "no_change"]);
    expect(decided("maybe").success).toBe(false);
    expect(DECISIONS.map((d) => decisionWord(d.toUpperCase()))).toEqual([...DECISIONS]);
    expect(decisionWord("NO CHANGE")).toBe("no_change");
    expect(decisionWord(undefined)).toBeUndefined();
  });
});
