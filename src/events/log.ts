import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { crashPoint } from "../core/crash-point.js";
import { writeFileAtomic } from "../environment/fs-safe.js";
import { layoutOf } from "../environment/layout.js";
import type { SacredGuard } from "../environment/sacred.js";
import { processRedactor } from "../llm/redact.js";
import { HEARTBEAT_INTERVAL_MS, readStatus } from "../status/liveness.js";
import type { CampaignStatus } from "../status/schema.js";
import { EMPTY_STATUS_FOLD, foldStatus, hoursBetween, type StatusFold, statusOf } from "./reducers.js";
import { EVENTS_VERSION, EventSchema, type JournalEntry, type LogEvent, type NewLogEvent } from "./schema.js";

export const eventsFile = (root: string) => layoutOf(root).events;

/** Every event of the file, in order; a line that does not parse (a torn last line from a kill) is skipped. */
export function readEvents(file: string): { events: LogEvent[]; skipped: number } {
  if (!existsSync(file)) return { events: [], skipped: 0 };
  const events: LogEvent[] = [];
  let skipped = 0;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      events.push(EventSchema.parse(JSON.parse(line)));
    } catch {
      skipped++;
    }
  }
  return { events, skipped };
}

/** A root written before the event log: its status.json and journal.jsonl as one `imported` event (or none). */
export function legacyImport(root: string, at = new Date().toISOString()): LogEvent | null {
  const layout = layoutOf(root);
  if (!existsSync(layout.status) && !existsSync(layout.journal)) return null;
  const status = readStatus(root)?.status ?? null;
  const journal: JournalEntry[] = [];
  if (existsSync(layout.journal))
    for (const line of readFileSync(layout.journal, "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        journal.push(JSON.parse(line) as JournalEntry);
      } catch {
        // a torn last line
      }
    }
  return {
    v: EVENTS_VERSION,
    at,
    campaign: status?.campaign_id ?? journal.at(-1)?.campaign ?? "",
    type: "imported",
    status,
    journal,
  };
}

/**
 * The writer of `<root>/events.jsonl`: one JSON line per event, fsynced before `append` returns, and status.json
 * rewritten atomically from the reduced status after each event (and at each heartbeat), so `status` and the
 * dashboard always read a whole file. A root from before the event log is taken over on open: its status.json and
 * journal.jsonl become the first event, so cycle numbers and counters go on.
 */
export class EventLog {
  readonly file: string;
  private readonly statusFile: string;
  private events: LogEvent[];
  private state: CampaignStatus | null;
  /** The reduced status so far: each event is folded in once, so appending stays cheap on a long log. */
  private fold: StatusFold;
  private checkedTail = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    root: string,
    private readonly guard: SacredGuard,
  ) {
    this.file = eventsFile(root);
    this.statusFile = layoutOf(root).status;
    this.events = readEvents(this.file).events;
    this.fold = this.events.reduce(foldStatus, EMPTY_STATUS_FOLD);
    this.state = statusOf(this.fold);
    if (!existsSync(this.file)) {
      const imported = legacyImport(root);
      if (imported) this.write(imported);
    }
  }

  /** Every event so far (this run's and earlier runs'). */
  get all(): readonly LogEvent[] {
    return this.events;
  }

  /** status.json as last written; null before any campaign started. */
  get status(): CampaignStatus | null {
    return this.state ? structuredClone(this.state) : null;
  }

  append(e: NewLogEvent): LogEvent {
    const event = EventSchema.parse({ v: EVENTS_VERSION, at: new Date().toISOString(), ...e });
    this.write(event);
    if (this.state) writeFileAtomic(this.guard, this.statusFile, `${JSON.stringify(this.state, null, 2)}\n`);
    crashHook(event);
    return event;
  }

  private write(event: LogEvent): void {
    this.guard.assertWritable(this.file);
    let line = `${processRedactor().text(JSON.stringify(event))}\n`;
    if (!this.checkedTail) {
      // A torn last line from a kill mid-write: end it, so this event starts on a line of its own.
      this.checkedTail = true;
      if (existsSync(this.file)) {
        const text = readFileSync(this.file, "utf8");
        if (text.length > 0 && !text.endsWith("\n")) line = `\n${line}`;
      }
    }
    const fd = openSync(this.file, "a");
    try {
      writeSync(fd, line);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.events.push(event);
    this.fold = foldStatus(this.fold, event);
    this.state = statusOf(this.fold);
  }

  /** Rewrites status.json's heartbeat every `intervalMs`, so readers can tell a live run from a dead one. */
  startHeartbeat(intervalMs = HEARTBEAT_INTERVAL_MS): void {
    this.stopHeartbeat();
    this.timer = setInterval(() => {
      const s = this.state;
      if (s?.status !== "running") return;
      const now = new Date().toISOString();
      const beat = {
        ...s,
        updated_at: now,
        heartbeat_at: now,
        // The running time so far: the last event's, plus the time since it (runningHours).
        elapsed_hours: s.elapsed_hours + hoursBetween(s.updated_at, now),
      };
      try {
        writeFileAtomic(this.guard, this.statusFile, `${JSON.stringify(beat, null, 2)}\n`);
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
}

/** The crash-safety tests' kill points (`src/core/crash-point.ts`): right after a journaled step's event is fsynced. */
function crashHook(e: LogEvent): void {
  crashPoint(e.type === "step" ? e.step : e.type);
}
