import { decisionWord, type Lesson } from "../core/types.js";
import type { JournalEntry } from "../events/schema.js";

/** What recovery knows after Master's work tree was repaired and orphan sandboxes removed. */
export interface RecoveryFacts {
  /** The journal, oldest first. */
  entries: readonly JournalEntry[];
  /** Master's HEAD now. */
  masterHead: string;
}

/** What recovery does: nothing (the last run ended cleanly), or close an interrupted cycle. */
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
      /** The commit its promotion made, when the journal has it. */
      commit?: string;
      /** The cycle's lesson, when its decision was journaled but the lesson not recorded. */
      lesson?: Lesson;
    };

type CloseCycle = Extract<RecoveryPlan, { action: "close-cycle" }>;

/**
 * After a kill (pure): the cycles the last run left open (journaled after the last campaign end, with no cycle end
 * and not recovered yet), each closed: several when workers ran cycles at once, in the order they started.
 */
export function planRecoveries(f: RecoveryFacts): CloseCycle[] {
  const lastEnd = f.entries.findLastIndex((e) => e.step === "campaign_end");
  const open = new Map<string, JournalEntry[]>();
  for (const e of f.entries.slice(lastEnd + 1)) {
    if (e.cycle === 0) continue;
    const key = `${e.campaign}\0${e.cycle}`;
    if (e.step === "cycle_end" || e.step === "recovered") open.delete(key);
    else open.set(key, [...(open.get(key) ?? []), e]);
  }
  return [...open.values()].map((inCycle) => closeCycle(inCycle, f.masterHead));
}

/** The last open cycle's plan (`planRecoveries`), or nothing to do. */
export function planRecovery(f: RecoveryFacts): RecoveryPlan {
  return planRecoveries(f).at(-1) ?? { action: "none" };
}

/**
 * One open cycle closed. A promotion that began either happened (Master is no longer at the commit journaled before
 * it, or the journal says it is done: its lesson is recorded as promoted) or did not (no lesson: the next cycle
 * finds the same work); a journaled rejection whose lesson was not recorded yet is recorded. Promotions are serial:
 * only the last one begun can be half-way.
 */
function closeCycle(inCycle: JournalEntry[], masterHead: string): CloseCycle {
  const last = inCycle.at(-1)!;
  const has = (s: JournalEntry["step"]) => inCycle.some((e) => e.step === s);
  const decided = [...inCycle].reverse().find((e) => e.step === "decided");
  const begin = inCycle.find((e) => e.step === "promote_begin");
  const done = inCycle.find((e) => e.step === "promote_done");
  const promoted =
    done !== undefined ||
    (begin !== undefined && masterHead !== (begin.data?.previous as string | undefined));
  const plan = {
    action: "close-cycle" as const,
    campaign: last.campaign,
    cycle: last.cycle,
    interruptedAt: last.step,
    promoted,
    ...(typeof done?.data?.commit === "string" ? { commit: done.data.commit } : {}),
  };
  const lesson = decided?.data?.lesson as Lesson | undefined;
  // A journal written before the one decision vocabulary says "reject": read in today's words.
  const rejected = decisionWord(decided?.data?.action) === "rejected";
  if (!lesson || has("lesson_recorded") || !(promoted || rejected)) return plan;
  return { ...plan, lesson: promoted ? { ...lesson, outcome: "promoted" } : lesson };
}
