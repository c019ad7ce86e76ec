import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { crashPoint } from "../core/crash-point.js";
import type { SacredGuard } from "../environment/sacred.js";
import { processRedactor } from "../llm/redact.js";

/**
 * The write-ahead log of cycle steps (`<root>/journal.jsonl`): every step is journaled before and after, so a
 * run killed at any point can be recovered (Master before or after a promotion, never between) and resumed.
 * Append-only, one fsynced line per entry; a torn last line (the kill came mid-write) is skipped.
 */
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

export interface JournalEntry {
  at: string;
  campaign: string;
  cycle: number;
  step: CycleStep;
  data?: Record<string, unknown>;
}

export class Journal {
  constructor(
    readonly file: string,
    private readonly guard: SacredGuard,
  ) {}

  private checkedTail = false;

  append(entry: Omit<JournalEntry, "at">): void {
    this.guard.assertWritable(this.file);
    let line = `${processRedactor().text(JSON.stringify({ at: new Date().toISOString(), ...entry }))}\n`;
    if (!this.checkedTail) {
      // A torn last line from a kill mid-write: end it, so this entry starts on a line of its own.
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
    crashPoint(entry.step);
  }

  read(): { entries: JournalEntry[]; skipped: number } {
    if (!existsSync(this.file)) return { entries: [], skipped: 0 };
    const entries: JournalEntry[] = [];
    let skipped = 0;
    for (const line of readFileSync(this.file, "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        entries.push(JSON.parse(line) as JournalEntry);
      } catch {
        skipped++;
      }
    }
    return { entries, skipped };
  }
}
