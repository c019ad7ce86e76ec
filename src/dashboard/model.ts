import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { decisionWord } from "../core/types.js";
import type { Layout } from "../environment/layout.js";
import { sandboxName } from "../environment/layout.js";
import type { LogEvent } from "../events/schema.js";
import { cycleReportName } from "../status/reports.js";
import type { GateSummary } from "../status/types.js";

/**
 * What the dashboard shows, derived from the event log alone (pure functions over `LogEvent[]`), so a crashed run,
 * a resumed one and a root from before the event log read the same way.
 */

export interface CycleRow {
  campaign: string;
  cycle: number;
  task: string | null;
  /** The approach that decided the cycle (the last one tried): `fixer` or `llm`, and its name. */
  approach: { kind: string; name: string } | null;
  /** Master's gate run before the cycle, and the candidate's gate run that decided (not a targeted one). */
  before: GateSummary[] | null;
  after: GateSummary[] | null;
  action: string | null;
  reason: string | null;
  files: string[];
  /** Master's commit when promoted. */
  commit: string | null;
  /** The cycle report's file name under reports/ (it exists once the cycle wrote it). */
  report: string;
  /** Trajectory files, relative to the root. */
  trajectories: string[];
}

export interface CampaignSummary {
  id: string;
  startedAt: string;
  endedAt: string | null;
  state: string;
  reason: string | null;
  cycles: number;
  promoted: number;
  rejected: number;
  costUsd: number;
  runs: number;
  /** The limits its latest run had (when the run recorded them). */
  limits: { maxCycles: number; maxHours: number } | null;
}

/** Every campaign of the root, oldest first. */
export function campaignsOf(events: readonly LogEvent[]): CampaignSummary[] {
  const byId = new Map<string, CampaignSummary>();
  for (const e of events) {
    if (e.type === "imported" && e.status) {
      const s = e.status;
      byId.set(s.campaign_id, {
        id: s.campaign_id,
        startedAt: s.started_at,
        endedAt: s.finished_at,
        state: s.status,
        reason: s.stop_reason,
        cycles: s.cycles_completed,
        promoted: s.improvements_promoted,
        rejected: s.improvements_rejected,
        costUsd: s.llm.cost_usd,
        runs: 1,
        limits: null,
      });
      continue;
    }
    const c = byId.get(e.campaign);
    if (e.type === "campaign_start") {
      const limits = e.limits ? { maxCycles: e.limits.max_cycles, maxHours: e.limits.max_hours } : null;
      if (c) Object.assign(c, { state: "running", reason: null, endedAt: null, runs: c.runs + 1, limits });
      else byId.set(e.campaign, { ...emptySummary(e.campaign, e.at), limits });
    } else if (c) applyToSummary(c, e);
  }
  return [...byId.values()];
}

function emptySummary(id: string, at: string): CampaignSummary {
  return {
    id,
    startedAt: at,
    endedAt: null,
    state: "running",
    reason: null,
    cycles: 0,
    promoted: 0,
    rejected: 0,
    costUsd: 0,
    runs: 1,
    limits: null,
  };
}

function applyToSummary(c: CampaignSummary, e: LogEvent): void {
  if (e.type === "step" && e.step === "cycle_end" && !e.data?.interrupted) {
    c.cycles++;
    if (e.data?.promoted === true) c.promoted++;
    else if (e.data?.rejected === true) c.rejected++;
  } else if (e.type === "model_call") c.costUsd += e.cost_usd;
  else if (e.type === "campaign_end") {
    c.state = e.state;
    c.reason = e.reason;
    c.endedAt = e.at;
  }
}

/** The cycles of one campaign, in order, with what decided each. */
export function cyclesOf(events: readonly LogEvent[], campaign: string, layout: Layout): CycleRow[] {
  const rows = new Map<number, CycleRow>();
  for (const e of events) {
    if (e.campaign !== campaign || !("cycle" in e) || e.cycle === undefined || e.cycle === 0) continue;
    let row = rows.get(e.cycle);
    if (!row) {
      row = emptyRow(campaign, e.cycle, layout);
      rows.set(e.cycle, row);
    }
    applyToRow(row, e);
  }
  return [...rows.values()].sort((a, b) => a.cycle - b.cycle);
}

function emptyRow(campaign: string, cycle: number, layout: Layout): CycleRow {
  const dir = path.join(layout.trajectories, sandboxName(cycle));
  const trajectories = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".jsonl"))
        .sort()
        .map((f) => `trajectories/${sandboxName(cycle)}/${f}`)
    : [];
  return {
    campaign,
    cycle,
    task: null,
    approach: null,
    before: null,
    after: null,
    action: null,
    reason: null,
    files: [],
    commit: null,
    report: cycleReportName(cycle),
    trajectories,
  };
}

/**
 * The gate runs that decided: a targeted run (the cascade's cheap step) is left out, and of a gate's runs the last
 * one is kept (logs from before `scope` was recorded: the full run follows the targeted one).
 */
export function decidingRuns(gates: readonly GateSummary[]): GateSummary[] {
  const last = new Map<string, GateSummary>();
  for (const g of gates) if (g.scope !== "targeted") last.set(g.gate, g);
  return [...last.values()];
}

function applyToRow(row: CycleRow, e: LogEvent): void {
  if (e.type === "gate_run") {
    // `final` is Master's check at the campaign's end: no cycle's.
    if (e.label === "before") row.before = decidingRuns(e.gates);
    else if (e.label !== "final") row.after = decidingRuns(e.gates);
  } else if (e.type === "decision") {
    row.task = e.task;
    row.action = e.action;
    row.reason = e.reason;
  } else if (e.type === "step") {
    const d = e.data ?? {};
    if (e.step === "work_found" && typeof d.task === "string") row.task = d.task;
    if (e.step === "attempt_done") {
      const [kind = "", ...name] = String(d.approach ?? "").split(":");
      row.approach = { kind, name: name.join(":") };
      row.files = Array.isArray(d.files) ? d.files.map(String) : [];
    }
    if (e.step === "decided") {
      row.action = String(d.action ?? "");
      row.reason = String(d.reason ?? "");
    }
    if (e.step === "promote_done" && typeof d.commit === "string") row.commit = d.commit;
  }
}

/** The acceptance funnel's stages, in order. */
export const FUNNEL_STAGES = ["attempts", "policy-clean", "lint", "tests", "stable", "promoted"] as const;

export interface Funnel {
  counts: Record<(typeof FUNNEL_STAGES)[number], number>;
  costUsd: number;
  /** Money spent per promotion (null when nothing was promoted). */
  costPerPromotion: number | null;
}

/**
 * How far each attempt got: every decided attempt passed the stages before the one that rejected it (the policy
 * gate, lint, the test gates — tests, validate, golden —, stability: an order-dependent or flaky result, then the
 * verdict's own checks: the target fixed, strict mode). An attempt that changed nothing passed none.
 */
export function funnelOf(events: readonly LogEvent[], campaign: string): Funnel {
  const counts = Object.fromEntries(FUNNEL_STAGES.map((s) => [s, 0])) as Funnel["counts"];
  let costUsd = 0;
  for (const e of events) {
    if (e.campaign !== campaign) continue;
    if (e.type === "model_call") costUsd += e.cost_usd;
    if (e.type !== "step") continue;
    if (e.step === "attempt_done") counts.attempts++;
    if (e.step !== "decided") continue;
    const passed = stagesPassed(e.data ?? {});
    for (let i = 1; i <= passed; i++) counts[FUNNEL_STAGES[i]!]++;
  }
  return {
    counts,
    costUsd,
    costPerPromotion: counts.promoted > 0 ? costUsd / counts.promoted : null,
  };
}

/** How many stages after `attempts` a decided attempt passed (0..5). */
export function stagesPassed(d: Record<string, unknown>): number {
  const lesson = (d.lesson ?? {}) as { outcome?: string; gate?: string; reason?: string };
  const reason = String(lesson.reason ?? d.reason ?? "");
  if (lesson.outcome === "promoted" || decisionWord(d.action) === "promoted") return 5;
  if (lesson.outcome === "no_change" || /made no change/.test(reason)) return 0;
  const gate = lesson.gate;
  if (gate === "policy") return 0;
  if (gate === "lint") return 1;
  if (gate && /order-dependent|flaky/i.test(reason)) return 3;
  if (gate) return 2;
  return lesson.outcome === "rejected" && /unsafe|git path|escape/i.test(reason) ? 0 : 4;
}
