import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { GateResult } from "../core/types.js";
import type { ImprovementEnvironment } from "../environment/environment.js";
import { writeFileAtomic } from "../environment/fs-safe.js";
import { git } from "../environment/git.js";
import { openCampaignState } from "../events/read-model.js";
import { readHarnessReport, transformerCoverage } from "../harness/run.js";
import { readIntrospection } from "../harness/write.js";
import { CampaignMemory } from "../memory/campaign-memory.js";
import { profileOf } from "../profiles/index.js";
import { failureCount, flakyChecks, parseShortStat, passCount, regressions } from "../status/metrics.js";
import { writeReport } from "../status/report-files.js";
import { campaignReportName, renderCampaignReport } from "../status/reports.js";
import type { CycleEntry, NotWorkGroup, PromotionEntry } from "../status/types.js";
import { environmentFailures } from "./find-work.js";

/**
 * What a campaign report needs beyond status.json and memory: the first and latest gate results on Master, the
 * cycles and promotions. Kept in `<root>/.odibi-improve/campaigns/<id>.json`, rewritten atomically after each step
 * that changes it, so `odibi-improve report` can render the report at any time, also for a dead run.
 */
export interface CampaignRecord {
  id: string;
  startedAt: string;
  firstBaseline: GateResult | null;
  lastBaseline: GateResult | null;
  /** Every gate result seen (flaky checks are counted over these): kept small by storing only flaky checks. */
  flaky: { gate: string; id: string; occurrences: number }[];
  cycles: CycleEntry[];
  promotions: PromotionEntry[];
  /** The latest discovery's items that are not work, by reason. */
  notWork?: NotWorkGroup[];
}

export class CampaignStore {
  constructor(private readonly env: ImprovementEnvironment) {}

  private file(id: string): string {
    return path.join(this.env.layout.state, "campaigns", `${id}.json`);
  }

  load(id: string): CampaignRecord | undefined {
    const f = this.file(id);
    return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as CampaignRecord) : undefined;
  }

  /** Every campaign on this root, oldest first. */
  list(): CampaignRecord[] {
    const dir = path.dirname(this.file("x"));
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(path.join(dir, f), "utf8")) as CampaignRecord)
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  /** The most recently started campaign's id, if any. */
  latestId(): string | undefined {
    return this.list().at(-1)?.id;
  }

  create(id: string): CampaignRecord {
    const r: CampaignRecord = {
      id,
      startedAt: new Date().toISOString(),
      firstBaseline: null,
      lastBaseline: null,
      flaky: [],
      cycles: [],
      promotions: [],
    };
    this.save(r);
    return r;
  }

  save(r: CampaignRecord): void {
    writeFileAtomic(this.env.guard, this.file(r.id), JSON.stringify(r));
  }

  noteBaseline(r: CampaignRecord, result: GateResult): void {
    r.firstBaseline ??= result;
    r.lastBaseline = result;
    const merged = flakyChecks([result]);
    for (const f of merged) {
      const e = r.flaky.find((x) => x.gate === f.gate && x.id === f.id);
      if (e) e.occurrences += f.occurrences;
      else r.flaky.push(f);
    }
    this.save(r);
  }

  noteNotWork(r: CampaignRecord, groups: NotWorkGroup[]): void {
    r.notWork = groups;
    this.save(r);
  }

  noteCycle(r: CampaignRecord, c: CycleEntry): void {
    r.cycles.push(c);
    this.save(r);
  }

  notePromotion(r: CampaignRecord, p: PromotionEntry): void {
    r.promotions.push(p);
    this.save(r);
  }

  /** Renders `reports/campaign_<id>_report.md` from the record, status.json and memory. Returns its path. */
  async writeCampaignReport(
    id: string,
    opts: { convergence: number; finalResult?: GateResult },
  ): Promise<string> {
    const r = this.load(id);
    if (!r) throw new Error(`no campaign record for ${id}`);
    const status = openCampaignState(this.env.root).status?.status;
    const last = opts.finalResult ?? r.lastBaseline;
    const master = this.env.layout.master;
    // What this campaign changed: from Master before its first promotion to its last one (nothing if none).
    const commits = r.promotions.flatMap((p) => (p.commit ? [p.commit] : []));
    const range = commits.length ? [`${commits[0]}~1`, commits.at(-1)!] : [];
    const shortstat = range.length ? (await git(master, ["diff", "--shortstat", ...range])).trim() : "";
    const stat = range.length ? (await git(master, ["diff", "--stat", ...range])).trimEnd() : "";
    const mem = new CampaignMemory(this.env.layout.memory, { guard: this.env.guard, readOnly: true });
    const avoided = mem.avoidedIssues();
    mem.close();
    const missing = profileOf(this.env.config.profile).missingDependencies?.(master);
    const sameCampaign = status?.campaign_id === id ? status : undefined;
    const stopReason = sameCampaign?.stop_reason ?? null;
    const md = renderCampaignReport({
      campaignId: id,
      status: sameCampaign?.status ?? "stopped",
      stopReason,
      startedAt: r.startedAt,
      finishedAt: sameCampaign?.finished_at ?? null,
      elapsedHours: sameCampaign?.elapsed_hours ?? 0,
      cyclesCompleted: r.cycles.length,
      improvementsPromoted: r.promotions.length,
      improvementsRejected: r.cycles.filter((c) => c.action === "reject").length,
      cyclesToConvergence: stopReason === "CONVERGED" ? r.cycles.length : null,
      tests: { before: passCount(r.firstBaseline, "tests"), after: passCount(last, "tests") },
      lintErrors: { before: failureCount(r.firstBaseline, "lint"), after: failureCount(last, "lint") },
      harnessCoverage: transformerCoverage(
        readHarnessReport(this.env.layout.golden),
        readIntrospection(this.env.layout.golden)?.transformers.length ?? 0,
      ),
      regressions: regressions(r.firstBaseline, last),
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
      environmentFailures: missing ? environmentFailures(last ?? null, missing) : [],
      ...(r.notWork?.length ? { notWork: r.notWork } : {}),
      warnings: sameCampaign?.isolation_warning ? [sameCampaign.isolation_warning] : [],
      ...(sameCampaign?.llm && sameCampaign.llm.tokens > 0
        ? { llm: { tokens: sameCampaign.llm.tokens, costUsd: sameCampaign.llm.cost_usd } }
        : {}),
    });
    return writeReport(this.env.guard, this.env.root, campaignReportName(id), md);
  }
}
