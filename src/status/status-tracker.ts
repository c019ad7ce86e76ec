import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { z } from "zod";
import { EnvironmentStateError, OdibiImproveError } from "../core/errors.js";
import { writeFileAtomic } from "../environment/fs-safe.js";
import { layoutOf } from "../environment/layout.js";
import { isPidAlive } from "../environment/lock.js";
import type { SacredGuard } from "../environment/sacred.js";
import { type CampaignState, type CampaignStatus, type CurrentStep, StatusSchema } from "./schema.js";

/** The run writes a heartbeat this often (when `startHeartbeat` is used)… */
export const HEARTBEAT_INTERVAL_MS = 30_000;
/** …and a reader calls a "running" status dead when the heartbeat is older than this. */
export const HEARTBEAT_STALE_MS = 5 * 60_000;

export interface StatusTrackerOptions {
  guard: SacredGuard;
  campaignId: string;
  /** Continue the counters of an earlier status (`run --resume`); `started_at` is kept, so elapsed time includes the downtime. */
  resumeFrom?: CampaignStatus;
  isolationWarning?: string | null;
  /** Clock, for deterministic tests. */
  now?: () => Date;
}

export interface CycleOutcome {
  promoted: boolean;
  /** A candidate was made and rejected (not counted when the cycle found no work or made no change). */
  rejected: boolean;
  /** Did the cycle learn anything (a promotion or a new failed approach)? Resets or bumps convergence_counter. */
  learned: boolean;
  /** Commits on Master since Sacred after this cycle, when the caller knows it; else promotions are counted. */
  masterChanges?: number;
}

type Patch = Partial<Omit<CampaignStatus, "pid" | "host" | "heartbeat_at" | "updated_at" | "elapsed_hours">>;

/**
 * Owns `<root>/status.json` for one campaign run. Every change is written at once, atomically (temp + fsync +
 * rename through the Sacred guard), so `odibi-improve status` and the dashboard always read a whole file.
 */
export class StatusTracker {
  readonly file: string;
  private readonly guard: SacredGuard;
  private readonly now: () => Date;
  private state: CampaignStatus;
  private timer: NodeJS.Timeout | null = null;

  constructor(root: string, opts: StatusTrackerOptions) {
    this.file = layoutOf(root).status;
    this.guard = opts.guard;
    this.now = opts.now ?? (() => new Date());
    const t = this.now().toISOString();
    const prev = opts.resumeFrom;
    this.state = {
      campaign_id: opts.campaignId,
      status: "running",
      started_at: prev?.started_at ?? t,
      updated_at: t,
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
      pid: process.pid,
      host: os.hostname(),
      heartbeat_at: t,
      stop_reason: null,
      isolation_warning: opts.isolationWarning ?? prev?.isolation_warning ?? null,
      llm: prev?.llm ?? { tokens: 0, cost_usd: 0 },
    };
    this.write();
  }

  /** A copy of what was last written. */
  get current(): CampaignStatus {
    return structuredClone(this.state);
  }

  update(patch: Patch): CampaignStatus {
    this.state = { ...this.state, ...patch };
    return this.write();
  }

  /** Names the step the run is in now (`gates:before`, `brain`, `promote`…), with when it began. */
  setStep(name: string, extra: Omit<CurrentStep, "name" | "since"> = {}): CampaignStatus {
    return this.update({ step: { name, since: this.now().toISOString(), ...extra } });
  }

  startCycle(cycle: number): CampaignStatus {
    return this.update({
      current_cycle: cycle,
      step: { name: "cycle:start", since: this.now().toISOString(), cycle },
    });
  }

  finishCycle(o: CycleOutcome): CampaignStatus {
    const s = this.state;
    const promoted = s.improvements_promoted + (o.promoted ? 1 : 0);
    return this.update({
      cycles_completed: s.cycles_completed + 1,
      improvements_promoted: promoted,
      improvements_rejected: s.improvements_rejected + (o.rejected && !o.promoted ? 1 : 0),
      master_changes: o.masterChanges ?? s.master_changes + (o.promoted ? 1 : 0),
      last_promotion: o.promoted ? this.now().toISOString() : s.last_promotion,
      convergence_counter: o.learned ? 0 : s.convergence_counter + 1,
      step: null,
    });
  }

  setAvoided(signatures: readonly string[]): CampaignStatus {
    return this.update({ issues_avoided: [...signatures] });
  }

  addLlmUsage(tokens: number, costUsd: number): CampaignStatus {
    const { llm } = this.state;
    return this.update({ llm: { tokens: llm.tokens + tokens, cost_usd: llm.cost_usd + costUsd } });
  }

  /** Records the end of the run. `reason` is the stop reason (CONVERGED, STOPPED…) or the error. */
  finish(status: Exclude<CampaignState, "running">, reason: string): CampaignStatus {
    this.stopHeartbeat();
    return this.update({ status, stop_reason: reason, step: null, finished_at: this.now().toISOString() });
  }

  heartbeat(): CampaignStatus {
    return this.write();
  }

  /** Rewrites the file every `intervalMs` so readers can tell a live run from a dead one during long steps. */
  startHeartbeat(intervalMs = HEARTBEAT_INTERVAL_MS): void {
    this.stopHeartbeat();
    this.timer = setInterval(() => {
      try {
        this.heartbeat();
      } catch {
        // A failed heartbeat (disk full for a moment) must not kill the campaign; the next one retries.
      }
    }, intervalMs);
    this.timer.unref();
  }

  stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private write(): CampaignStatus {
    const now = this.now();
    this.state = {
      ...this.state,
      updated_at: now.toISOString(),
      heartbeat_at: now.toISOString(),
      elapsed_hours: Math.max(0, (now.getTime() - Date.parse(this.state.started_at)) / 3_600_000),
    };
    writeFileAtomic(this.guard, this.file, `${JSON.stringify(this.state, null, 2)}\n`);
    return this.current;
  }
}

export interface StatusReading {
  status: CampaignStatus;
  /** What the run really is: `crashed` when the file says running but the process is gone or silent. */
  effective: CampaignState;
  /** Plain sentence for the user when the file and reality disagree, else null. */
  note: string | null;
}

export interface LivenessOptions {
  now?: Date;
  staleAfterMs?: number;
  host?: string;
  isAlive?: (pid: number) => boolean;
}

/** Pure judgement of whether a "running" status still has a live process behind it. */
export function assessLiveness(status: CampaignStatus, opts: LivenessOptions = {}): StatusReading {
  if (status.status !== "running") return { status, effective: status.status, note: null };
  const now = opts.now ?? new Date();
  const staleAfter = opts.staleAfterMs ?? HEARTBEAT_STALE_MS;
  const host = opts.host ?? os.hostname();
  const isAlive = opts.isAlive ?? isPidAlive;
  const ageMs = now.getTime() - Date.parse(status.heartbeat_at);
  const age = `${Math.round(ageMs / 1000)}s ago`;
  if (status.host === host && !isAlive(status.pid)) {
    return {
      status,
      effective: "crashed",
      note: `the run died: status says running but process ${status.pid} is gone (last heartbeat ${age}); resume it with \`odibi-improve run --resume\``,
    };
  }
  if (ageMs > staleAfter) {
    return {
      status,
      effective: "crashed",
      note: `the run seems dead: no heartbeat for ${age} (process ${status.pid} on ${status.host}); if it is gone, resume it with \`odibi-improve run --resume\``,
    };
  }
  return { status, effective: "running", note: null };
}

/** Reads `<root>/status.json`; null when no campaign has run yet. A malformed file is a clear error. */
export function readStatus(root: string, opts: LivenessOptions = {}): StatusReading | null {
  const file = layoutOf(root).status;
  if (!existsSync(file)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new EnvironmentStateError(`${file} is not valid JSON: ${(err as Error).message}`, {
      hint: "It is written atomically, so this is not a torn write; delete it if you edited it by hand.",
    });
  }
  const parsed = StatusSchema.safeParse(raw);
  if (!parsed.success) {
    throw new OdibiImproveError(
      `${file} does not look like a campaign status:\n${z.prettifyError(parsed.error)}`,
      {
        hint: "It may have been written by a newer or older odibi-improve; delete it to start fresh.",
      },
    );
  }
  return assessLiveness(parsed.data, opts);
}
