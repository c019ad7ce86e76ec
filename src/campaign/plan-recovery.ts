import { decisionWord, type Lesson } from "../core/types.js";
import type { JournalEntry } from "../events/schema.js";

/** What recovery knows after Master's work tree was repaired and orphan sandboxes removed. */
export interface RecoveryFacts {
  /** The journal, oldest first. */
  entries: readonly JournalEntry[];
  /** Master's HEAD now. */
  masterHead: string;
}

/** What recovery does: nothing (the last run ended cleanly), or close the interrupted cycle. */
export type RecoveryPlan =
  | { action: "none" }
  | {
      action: "close-cycle";
      campaign: string;
      cycle: number;
      /** The last step the journal holds. */
      interruptedAt: JournalEntry["step"];
      /** Master is after the cycle's promotion (it moved, or the journal says it did). */
      promoted: boolean;
      /** The cycle's lesson, when its decision was journaled but the lesson not recorded. */
      lesson?: Lesson;
    };

const CLOSED: ReadonlySet<JournalEntry["step"]> = new Set(["cycle_end", "campaign_end", "recovered"]);

/**
 * After a kill (pure): the last journaled cycle is closed. A promotion that began either happened (Master is no
 * longer at the commit journaled before it, or the journal says it is done: its lesson is recorded as promoted) or
 * did not (no lesson: the next cycle finds the same work); a journaled rejection whose lesson was not recorded yet
 * is recorded.
 */
export function planRecovery(f: RecoveryFacts): RecoveryPlan {
  const last = f.entries.at(-1);
  if (!last || CLOSED.has(last.step)) return { action: "none" };
  const cycle = last.cycle;
  const inCycle = f.entries.filter((e) => e.cycle === cycle && e.campaign === last.campaign);
  const has = (s: JournalEntry["step"]) => inCycle.some((e) => e.step === s);
  const decided = [...inCycle].reverse().find((e) => e.step === "decided");
  const begin = inCycle.find((e) => e.step === "promote_begin");
  const promoted =
    has("promote_done") ||
    (begin !== undefined && f.masterHead !== (begin.data?.previous as string | undefined));
  const plan = {
    action: "close-cycle" as const,
    campaign: last.campaign,
    cycle,
    interruptedAt: last.step,
    promoted,
  };
  const lesson = decided?.data?.lesson as Lesson | undefined;
  // A journal written before the one decision vocabulary says "reject": read in today's words.
  const rejected = decisionWord(decided?.data?.action) === "rejected";
  if (!lesson || has("lesson_recorded") || !(promoted || rejected)) return plan;
  return { ...plan, lesson: promoted ? { ...lesson, outcome: "promoted" } : lesson };
}
