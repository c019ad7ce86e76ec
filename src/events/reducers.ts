import type { CampaignStatus } from "../status/schema.js";
import type { JournalEntry, LogEvent } from "./schema.js";

/**
 * Pure reducers over the event log: status.json (`reduceStatus`) and the resume journal (`reduceJournal`) are
 * functions of the events, so a reader gets the same state the run wrote.
 */

export const hoursBetween = (from: string, to: string) =>
  Math.max(0, (Date.parse(to) - Date.parse(from)) / 3_600_000);

/** Where `runningHours` is after some events: the hours of closed runs, and the open run's first and last event. */
export interface HoursFold {
  hours: number;
  run?: { start: string; last: string; beforeLesson?: string };
}

const closeRun = (f: HoursFold): HoursFold => ({
  hours: f.hours + (f.run ? hoursBetween(f.run.start, f.run.last) : 0),
});

/** `runningHours` after one more event. Pure. */
export function foldHours(f: HoursFold, e: LogEvent): HoursFold {
  const { run } = f;
  if (e.type === "imported") return { hours: e.status?.elapsed_hours ?? 0 };
  if (e.type === "campaign_start")
    return { hours: e.resume ? closeRun(f).hours : 0, run: { start: e.at, last: e.at } };
  if (!run) return f;
  if (e.type === "recovered") {
    const last =
      e.data.lessonRecovered === true && run.beforeLesson !== undefined ? run.beforeLesson : run.last;
    return closeRun({ hours: f.hours, run: { ...run, last } });
  }
  const next = {
    hours: f.hours,
    run: { ...run, last: e.at, beforeLesson: e.type === "lesson" ? run.last : undefined },
  };
  return e.type === "campaign_end" ? closeRun(next) : next;
}

/**
 * The hours a campaign's runs were running: each run from its campaign_start to its last event (its campaign_end,
 * or the last one before it was killed), never the time between runs. A resumed run adds to the campaign's hours, a
 * new campaign starts from 0, an imported status from its `elapsed_hours`. What a recovery appends before the next
 * campaign_start (`recovered`, after the lesson it recovered) belongs to no run.
 */
export function runningHours(events: readonly LogEvent[]): number {
  return closeRun(events.reduce(foldHours, { hours: 0 })).hours;
}

/** status.json after one more event, its elapsed_hours aside; `null` until a campaign started (or was imported). */
function applyStatus(state: CampaignStatus | null, e: LogEvent): CampaignStatus | null {
  // An imported status is kept as it was written (its heartbeat tells whether that run is alive).
  if (e.type === "imported") return e.status;
  const next = statusAfter(state, e);
  if (!next) return null;
  return { ...next, updated_at: e.at, heartbeat_at: e.at };
}

function statusAfter(s: CampaignStatus | null, e: LogEvent): CampaignStatus | null {
  if (e.type === "campaign_start") {
    // A resumed run keeps the counters and the start time; elapsed_hours counts running time only (runningHours).
    const prev = e.resume ? s : null;
    return {
      campaign_id: e.campaign,
      status: "running",
      started_at: prev?.started_at ?? e.at,
      updated_at: e.at,
      finished_at: null,
      current_cycle: prev?.current_cycle ?? 0,
      cycles_completed: prev?.cycles_completed ?? 0,
      improvements_promoted: prev?.improvements_promoted ?? 0,
      improvements_rejected: prev?.improvements_rejected ?? 0,
      master_changes: prev?.master_changes ?? 0,
      last_promotion: prev?.last_promotion ?? null,
      convergence_counter: prev?.convergence_counter ?? 0,
      issues_avoided: prev?.issues_avoided ?? [],
      elapsed_hours: 0,
      step: null,
      pid: e.pid,
      host: e.host,
      heartbeat_at: e.at,
      stop_reason: null,
      isolation_warning: e.isolation_warning ?? prev?.isolation_warning ?? null,
      llm: prev?.llm ?? { tokens: 0, cost_usd: 0 },
      coverage: prev?.coverage ?? null,
    };
  }
  if (!s) return null;
  switch (e.type) {
    case "phase":
      return {
        ...s,
        step: { name: e.name, since: e.at, ...(e.cycle !== undefined ? { cycle: e.cycle } : {}) },
      };
    case "step": {
      const step = { name: e.step, since: e.at, cycle: e.cycle };
      if (e.step === "cycle_start") return { ...s, current_cycle: e.cycle, step };
      if (e.step !== "cycle_end" || e.data?.interrupted) return { ...s, step };
      // A cycle that ran to its end: counted. `rejected` counts a candidate made and rejected; `learned` resets
      // the convergence counter; `masterChanges` (commits on Master since Sacred), when known, else promotions.
      const d = e.data ?? {};
      const promoted = d.promoted === true;
      return {
        ...s,
        cycles_completed: s.cycles_completed + 1,
        improvements_promoted: s.improvements_promoted + (promoted ? 1 : 0),
        improvements_rejected: s.improvements_rejected + (d.rejected === true && !promoted ? 1 : 0),
        master_changes:
          typeof d.masterChanges === "number" ? d.masterChanges : s.master_changes + (promoted ? 1 : 0),
        last_promotion: promoted ? e.at : s.last_promotion,
        // A cycle that waited (its work was held by another worker's cycle) says nothing about convergence.
        convergence_counter:
          d.learned === true ? 0 : d.waited === true ? s.convergence_counter : s.convergence_counter + 1,
        step,
      };
    }
    case "model_call":
      return { ...s, llm: { tokens: s.llm.tokens + e.tokens, cost_usd: s.llm.cost_usd + e.cost_usd } };
    case "avoided":
      return { ...s, issues_avoided: [...e.signatures] };
    case "coverage":
      return { ...s, coverage: e.coverage };
    case "campaign_end":
      return { ...s, status: e.state, stop_reason: e.reason, step: null, finished_at: e.at };
    default:
      return s;
  }
}

/** Where `reduceStatus` is after some events; `statusOf` gives the status. Kept by the log, one event at a time. */
export interface StatusFold {
  status: CampaignStatus | null;
  hours: HoursFold;
}

export const EMPTY_STATUS_FOLD: StatusFold = { status: null, hours: { hours: 0 } };

/** The fold after one more event. Pure. */
export function foldStatus(f: StatusFold, e: LogEvent): StatusFold {
  return { status: applyStatus(f.status, e), hours: foldHours(f.hours, e) };
}

/** status.json of a fold: its status with the running hours so far. */
export function statusOf(f: StatusFold): CampaignStatus | null {
  return f.status && { ...f.status, elapsed_hours: closeRun(f.hours).hours };
}

export function reduceStatus(events: readonly LogEvent[]): CampaignStatus | null {
  return statusOf(events.reduce(foldStatus, EMPTY_STATUS_FOLD));
}

/** The resume journal: the journaled steps of every run, in order (an imported journal first). */
export function reduceJournal(events: readonly LogEvent[]): JournalEntry[] {
  return events.flatMap((e): JournalEntry[] => {
    const { at, campaign } = e;
    switch (e.type) {
      case "imported":
        return e.journal;
      case "campaign_start":
        return [{ at, campaign, cycle: 0, step: "campaign_start", data: { resume: e.resume } }];
      case "step":
        return [{ at, campaign, cycle: e.cycle, step: e.step, ...(e.data ? { data: e.data } : {}) }];
      case "recovered":
        return [{ at, campaign, cycle: e.cycle, step: "recovered", data: e.data }];
      case "campaign_end":
        return [
          {
            at,
            campaign,
            cycle: 0,
            step: "campaign_end",
            data: e.error ? { error: e.reason } : { reason: e.reason },
          },
        ];
      default:
        return [];
    }
  });
}

/** The next cycle's number: cycles go on across runs and campaigns of a root (so reports are never overwritten). */
export function nextCycleNumber(journal: readonly JournalEntry[]): number {
  return journal.reduce((max, e) => Math.max(max, e.cycle), 0) + 1;
}
