import { decisionWord } from "../core/types.js";
import type {
  CheckRef,
  CycleEntry,
  GateSummary,
  NotWorkGroup,
  PromotionEntry,
  ReportAction,
  TestsAdded,
} from "../status/types.js";
import type { LogEvent } from "./schema.js";

/**
 * What the campaign report shows of one campaign, reduced from the event log (`reduceCampaigns`): its Master gate
 * runs (the first baseline and the latest, the final run included), the cycles and their decisions, the promotions
 * (a cycle whose promotion finished), flaky checks, what the latest discovery found not to be work, model spend.
 */
export interface CampaignView {
  id: string;
  startedAt: string;
  firstMaster: MasterRun | null;
  lastMaster: MasterRun | null;
  flaky: { gate: string; id: string; occurrences: number }[];
  cycles: CycleEntry[];
  promotions: PromotionEntry[];
  notWork?: NotWorkGroup[];
  /** The latest cycle's open items that no approach of the campaign could take (left for a model or a human). */
  waiting?: { total: number; items: { title: string; kind: string; target: string }[] };
  llm: { tokens: number; costUsd: number };
}

/** One gate run on Master, as its event gives it. */
export interface MasterRun {
  cycle: number;
  label: string;
  gates: GateSummary[];
  failing: CheckRef[];
  failingTotal: number;
  environment: { gate: string; id: string; needs: string }[];
}

/** A decision word, in today's vocabulary (older logs: promote / reject / none). */
const actionOf = (a: unknown): ReportAction => decisionWord(a) ?? "no_change";

interface Building extends CampaignView {
  /** Per cycle: the task it worked on, its snapshot and model spend, until its promotion (if any) is done. */
  open: Map<number, OpenCycle>;
}

interface OpenCycle {
  task?: string;
  snapshot?: string;
  /** The `decided` step's action and reason (a candidate was judged). */
  decided?: { action: ReportAction; reason: string };
  /** A test-adding candidate's tests, from the `decided` step. */
  testsAdded?: TestsAdded;
  llm: { tokens: number; costUsd: number };
}

function cycleOf(b: Building, cycle: number) {
  let c = b.open.get(cycle);
  if (!c) {
    c = { llm: { tokens: 0, costUsd: 0 } };
    b.open.set(cycle, c);
  }
  return c;
}

function noteMaster(b: Building, e: Extract<LogEvent, { type: "gate_run" }>): void {
  if (!e.master) return;
  const run: MasterRun = {
    cycle: e.cycle,
    label: e.label,
    gates: e.gates,
    failing: e.master.failing,
    failingTotal: e.master.failing_total,
    environment: e.master.environment,
  };
  b.firstMaster ??= run;
  b.lastMaster = run;
  for (const f of e.master.flaky) {
    const known = b.flaky.find((x) => x.gate === f.gate && x.id === f.id);
    if (known) known.occurrences++;
    else b.flaky.push({ ...f, occurrences: 1 });
  }
}

function noteStep(b: Building, e: Extract<LogEvent, { type: "step" }>): void {
  const c = cycleOf(b, e.cycle);
  const d = e.data ?? {};
  if (e.step === "work_found" && typeof d.task === "string") c.task = d.task;
  else if (e.step === "snapshot_done" && typeof d.snapshot === "string") c.snapshot = d.snapshot;
  else if (e.step === "decided") {
    c.decided = { action: actionOf(d.action), reason: typeof d.reason === "string" ? d.reason : "" };
    if (d.tests && typeof d.tests === "object") c.testsAdded = d.tests as TestsAdded;
  } else if (e.step === "promote_done") notePromotion(b, e.cycle, e.at, d.commit);
}

/** A cycle's promotion, once (a promotion a kill interrupted is completed by recovery's `recovered` event). */
function notePromotion(b: Building, cycle: number, at: string, commit: unknown): void {
  if (b.promotions.some((p) => p.cycle === cycle)) return;
  const c = cycleOf(b, cycle);
  b.promotions.push({
    cycle,
    title: c.task ?? "(unknown task)",
    at,
    ...(c.snapshot ? { snapshot: c.snapshot } : {}),
    ...(typeof commit === "string" ? { commit } : {}),
    ...(c.llm.tokens > 0 ? { llm: { ...c.llm } } : {}),
    ...(c.testsAdded ? { testsAdded: c.testsAdded } : {}),
  });
}

function campaign(byId: Map<string, Building>, id: string, at: string): Building {
  let b = byId.get(id);
  if (!b) {
    b = {
      id,
      startedAt: at,
      firstMaster: null,
      lastMaster: null,
      flaky: [],
      cycles: [],
      promotions: [],
      llm: { tokens: 0, costUsd: 0 },
      open: new Map(),
    };
    byId.set(id, b);
  }
  return b;
}

/** An older root's journal: its campaigns, their promotions, and each finished cycle's outcome. */
function applyImported(byId: Map<string, Building>, e: Extract<LogEvent, { type: "imported" }>): void {
  if (e.status) campaign(byId, e.status.campaign_id, e.status.started_at);
  const reasons = new Map<string, string>();
  for (const j of e.journal) {
    const b = campaign(byId, j.campaign, j.at);
    const d = j.data ?? {};
    const key = `${j.campaign}\u0000${j.cycle}`;
    if (j.step === "decided" && typeof d.reason === "string") reasons.set(key, d.reason);
    if (j.step === "cycle_end" && !d.interrupted) {
      const action: ReportAction =
        d.promoted === true ? "promoted" : d.rejected === true ? "rejected" : "no_change";
      const task = b.open.get(j.cycle)?.task ?? null;
      b.cycles.push({ cycle: j.cycle, task, action, reason: reasons.get(key) ?? "" });
    } else if (j.step !== "campaign_start" && j.step !== "campaign_end" && j.step !== "recovered")
      noteStep(b, {
        v: e.v,
        type: "step",
        at: j.at,
        campaign: j.campaign,
        cycle: j.cycle,
        step: j.step,
        data: d,
      });
  }
}

/** A cycle a kill interrupted, closed by recovery: its promotion (if Master moved) and its line in the cycles. */
function noteRecovered(b: Building, e: Extract<LogEvent, { type: "recovered" }>): void {
  const promoted = e.data.promoted === true;
  if (promoted) notePromotion(b, e.cycle, e.at, e.data.commit);
  if (b.cycles.some((c) => c.cycle === e.cycle)) return;
  const c = cycleOf(b, e.cycle);
  const where = typeof e.data.interruptedAt === "string" ? ` at ${e.data.interruptedAt}` : "";
  b.cycles.push({
    cycle: e.cycle,
    task: c.task ?? null,
    action: promoted ? "promoted" : (c.decided?.action ?? "no_change"),
    reason: c.decided?.reason || `interrupted${where}; closed by recovery`,
  });
}

function apply(byId: Map<string, Building>, e: LogEvent): void {
  if (e.type === "imported") {
    applyImported(byId, e);
    return;
  }
  if (e.type === "campaign_start") campaign(byId, e.campaign, e.at);
  const b = byId.get(e.campaign);
  if (!b) return;
  switch (e.type) {
    case "gate_run":
      noteMaster(b, e);
      return;
    case "step":
      noteStep(b, e);
      return;
    case "model_call": {
      const c = cycleOf(b, e.cycle);
      c.llm.tokens += e.tokens;
      c.llm.costUsd += e.cost_usd;
      b.llm.tokens += e.tokens;
      b.llm.costUsd += e.cost_usd;
      return;
    }
    case "decision":
      b.cycles.push({
        cycle: e.cycle,
        task: e.task === "(none)" ? null : e.task,
        action: actionOf(e.action),
        reason: e.reason,
      });
      return;
    case "recovered":
      noteRecovered(b, e);
      return;
    case "waiting":
      b.waiting = { total: e.total, items: e.items };
      return;
    case "not_work":
      b.notWork = e.groups;
      return;
    default:
      return;
  }
}

/** Every campaign of a root that the event log holds, oldest first. Pure. */
export function reduceCampaigns(events: readonly LogEvent[]): CampaignView[] {
  const byId = new Map<string, Building>();
  for (const e of events) apply(byId, e);
  return [...byId.values()].map(({ open: _open, ...view }) => view);
}

/**
 * Checks failing in `last` that did not fail (nor flake) in `first`: regressions, which a campaign must never leave
 * behind. Only the listed failing checks are compared (a run lists the first `MAX_FAILING_LISTED`).
 */
export function masterRegressions(
  first: MasterRun | null,
  last: MasterRun | null,
  flaky: readonly { gate: string; id: string }[],
): CheckRef[] {
  if (!first || !last || first === last) return [];
  const key = (c: { gate: string; id: string }) => `${c.gate}\u0000${c.id}`;
  const before = new Set([...first.failing, ...flaky].map(key));
  return last.failing.filter((c) => !before.has(key(c)));
}

/** Passed / (passed + failed) of one gate's checks in a run's summary; null when the gate did not run. */
export function summaryPassCount(
  run: MasterRun | null,
  gate: string,
): { passed: number; total: number } | null {
  const gates = run?.gates.filter((g) => g.gate === gate) ?? [];
  if (gates.length === 0) return null;
  const passed = gates.reduce((n, g) => n + g.passed, 0);
  return { passed, total: passed + gates.reduce((n, g) => n + g.failed, 0) };
}

/** Failed checks of one gate in a run's summary; null when the gate did not run. */
export function summaryFailures(run: MasterRun | null, gate: string): number | null {
  const gates = run?.gates.filter((g) => g.gate === gate) ?? [];
  return gates.length === 0 ? null : gates.reduce((n, g) => n + g.failed, 0);
}
