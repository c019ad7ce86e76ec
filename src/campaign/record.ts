import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { decisionWord, type GateResult } from "../core/types.js";
import type { ImprovementEnvironment } from "../environment/environment.js";
import { git } from "../environment/git.js";
import {
  type CampaignView,
  type MasterRun,
  masterRegressions,
  reduceCampaigns,
  summaryFailures,
  summaryPassCount,
} from "../events/campaigns.js";
import { openCampaignState } from "../events/read-model.js";
import { packageCoverage } from "../harness/coverage.js";
import { readHarnessReport, transformerCoverage } from "../harness/run.js";
import { readIntrospection } from "../harness/write.js";
import { CampaignMemory } from "../memory/campaign-memory.js";
import { failingChecks, flakyChecks, parseShortStat, summariseGates } from "../status/metrics.js";
import { writeReport } from "../status/report-files.js";
import { campaignReportName, renderCampaignReport } from "../status/reports.js";
import type { CycleEntry, NotWorkGroup, PromotionEntry } from "../status/types.js";
import { COVERAGE_STORE } from "./coverage-work.js";

/**
 * The campaigns of a root and their reports, read from the event log (`reduceCampaigns`): `odibi-improve report`
 * renders a report at any time, also for a dead run. A root written by a version before the event log carried
 * these facts keeps its campaigns in `.odibi-improve/campaigns/<id>.json`; those are read when the log lacks them.
 */
export class CampaignStore {
  constructor(private readonly env: ImprovementEnvironment) {}

  /** Every campaign on this root, oldest first. */
  list(): CampaignView[] {
    const state = openCampaignState(this.env.root);
    const views = reduceCampaigns(state.events);
    const known = new Set(views.map((v) => v.id));
    const legacy = legacyRecords(this.env.layout.state).filter((v) => !known.has(v.id));
    return [...legacy, ...views].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  load(id: string): CampaignView | undefined {
    return this.list().find((c) => c.id === id);
  }

  /** The most recently started campaign's id, if any. */
  latestId(): string | undefined {
    return this.list().at(-1)?.id;
  }

  /** Renders `reports/campaign_<id>_report.md` from the event log and memory. Returns its path. */
  async writeCampaignReport(id: string): Promise<string> {
    const r = this.load(id);
    if (!r) throw new Error(`no campaign ${id} in the event log`);
    const status = openCampaignState(this.env.root).status?.status;
    const master = this.env.layout.master;
    // What this campaign changed: from Master before its first promotion to its last one (nothing if none).
    const commits = r.promotions.flatMap((p) => (p.commit ? [p.commit] : []));
    const range = commits.length ? [`${commits[0]}~1`, commits.at(-1)!] : [];
    const shortstat = range.length ? (await git(master, ["diff", "--shortstat", ...range])).trim() : "";
    const stat = range.length ? (await git(master, ["diff", "--stat", ...range])).trimEnd() : "";
    const mem = new CampaignMemory(this.env.layout.memory, { guard: this.env.guard, readOnly: true });
    const avoided = mem.avoidedIssues();
    mem.close();
    const sameCampaign = status?.campaign_id === id ? status : undefined;
    const stopReason = sameCampaign?.stop_reason ?? null;
    const { firstMaster: first, lastMaster: last } = r;
    const md = renderCampaignReport({
      campaignId: id,
      status: sameCampaign?.status ?? "stopped",
      stopReason,
      startedAt: r.startedAt,
      finishedAt: sameCampaign?.finished_at ?? null,
      elapsedHours: sameCampaign?.elapsed_hours ?? 0,
      cyclesCompleted: r.cycles.length,
      improvementsPromoted: r.promotions.length,
      improvementsRejected: r.cycles.filter((c) => c.action === "rejected").length,
      cyclesToConvergence: stopReason === "CONVERGED" ? r.cycles.length : null,
      tests: { before: summaryPassCount(first, "tests"), after: summaryPassCount(last, "tests") },
      lintErrors: { before: summaryFailures(first, "lint"), after: summaryFailures(last, "lint") },
      harnessCoverage: transformerCoverage(
        readHarnessReport(this.env.layout.golden),
        readIntrospection(this.env.layout.golden)?.transformers.length ?? 0,
      ),
      packageCoverage: packageCoverage(
        path.join(this.env.layout.state, COVERAGE_STORE),
        readIntrospection(this.env.layout.golden),
      ),
      regressions: masterRegressions(first, last, r.flaky),
      masterDiff: shortstat
        ? parseShortStat(shortstat, stat)
        : { filesChanged: 0, insertions: 0, deletions: 0 },
      promotions: r.promotions,
      cycles: r.cycles,
      avoidedIssues: avoided.map((a) => ({
        signature: a.signature,
        title: a.title,
        failures: a.failures,
        ...(a.lastReason ? { lastReason: a.lastReason } : {}),
      })),
      flakyChecks: r.flaky,
      environmentFailures: last?.environment ?? [],
      ...(r.notWork?.length ? { notWork: r.notWork } : {}),
      ...(r.waiting?.total ? { waiting: r.waiting } : {}),
      warnings: sameCampaign?.isolation_warning ? [sameCampaign.isolation_warning] : [],
      ...(r.llm.tokens > 0 ? { llm: r.llm } : {}),
    });
    return writeReport(this.env.guard, this.env.root, campaignReportName(id), md);
  }
}

/** A campaign record written before the event log carried baselines, cycles and promotions. */
interface LegacyRecord {
  id: string;
  startedAt: string;
  firstBaseline: GateResult | null;
  lastBaseline: GateResult | null;
  flaky: { gate: string; id: string; occurrences: number }[];
  cycles: CycleEntry[];
  promotions: PromotionEntry[];
  notWork?: NotWorkGroup[];
}

function masterRunOf(result: GateResult | null): MasterRun | null {
  if (!result) return null;
  const failing = failingChecks(result);
  return {
    cycle: 0,
    label: "before",
    gates: summariseGates(result) ?? [],
    failing: failing.listed,
    failingTotal: failing.total,
    environment: [],
  };
}

/** `.odibi-improve/campaigns/*.json` of an older root, as views. */
function legacyRecords(stateDir: string): CampaignView[] {
  const dir = path.join(stateDir, "campaigns");
  if (!existsSync(dir)) return [];
  const out: CampaignView[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".json"))) {
    let r: LegacyRecord;
    try {
      r = JSON.parse(readFileSync(path.join(dir, f), "utf8")) as LegacyRecord;
    } catch {
      continue;
    }
    const flaky = r.lastBaseline ? flakyChecks([r.lastBaseline]) : [];
    out.push({
      id: r.id,
      startedAt: r.startedAt,
      firstMaster: masterRunOf(r.firstBaseline),
      lastMaster: masterRunOf(r.lastBaseline),
      flaky: r.flaky ?? flaky,
      cycles: (r.cycles ?? []).map((c) => ({ ...c, action: decisionWord(c.action) ?? "no_change" })),
      promotions: r.promotions ?? [],
      ...(r.notWork ? { notWork: r.notWork } : {}),
      llm: {
        tokens: (r.promotions ?? []).reduce((n, p) => n + (p.llm?.tokens ?? 0), 0),
        costUsd: (r.promotions ?? []).reduce((n, p) => n + (p.llm?.costUsd ?? 0), 0),
      },
    });
  }
  return out;
}
