import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type FixerApproach, fixersFor, runFixer } from "../brain/fixers.js";
import type { LlmImprover } from "../brain/llm-improver.js";
import { type ExitCode, errorMessage } from "../core/errors.js";
import type { GateResult, Lesson, Task } from "../core/types.js";
import type { ImprovementEnvironment, SandboxInfo } from "../environment/environment.js";
import { git } from "../environment/git.js";
import { WriterLock } from "../environment/lock.js";
import { ensureRepositoryDependencies } from "../environment/repository-deps.js";
import { type Fingerprint, takeFingerprint, watchSacred } from "../environment/sacred.js";
import { installedDependencies } from "../environment/staged-install.js";
import { assertSafeGitTree, UnsafeGitTreeError } from "../environment/tree-safety.js";
import { EventLog } from "../events/log.js";
import { nextCycleNumber, reduceJournal } from "../events/reducers.js";
import type { CYCLE_STEPS, JournalEntry } from "../events/schema.js";
import { describeIsolation, type IsolationDecision, resolveIsolation } from "../exec/jail.js";
import { GateCache } from "../gates/cache.js";
import { gateIsolation, makeGateContext } from "../gates/context.js";
import type { GateContext } from "../gates/gate.js";
import { missingDependencyJudge } from "../gates/missing-dependency.js";
import { checkGates } from "../gates/pipeline.js";
import { decideVerdict, type GateVerdict } from "../gates/verdict.js";
import { CampaignMemory } from "../memory/campaign-memory.js";
import {
  checkPolicy,
  loadFileReaders,
  oracleGlobOf,
  oracleGlobs,
  restoreOracle,
  violationToCheck,
} from "../policy/index.js";
import { unsafeGitViolations } from "../policy/violation.js";
import { defaultVenvDir, venvBin } from "../pyenv/python-env.js";
import { readStatus } from "../status/liveness.js";
import { summariseGates } from "../status/metrics.js";
import { writeReport } from "../status/report-files.js";
import { cycleReportName, renderCycleReport } from "../status/reports.js";
import type { CycleReportData } from "../status/types.js";
import { rejectIgnoredPaths, unrelatedFiles } from "./candidate-checks.js";
import { discoveredIssueFacts, ignoredByGit } from "./candidate-facts.js";
import { decide, type VerdictFacts } from "./decide.js";
import { discoverIssues, notWorkGroups } from "./discover.js";
import { environmentFailures, listWork } from "./find-work.js";
import { type CampaignRecord, CampaignStore } from "./record.js";
import { similarLessons } from "./similar-lessons.js";
import { checkStop, exitCodeForStop, type StopReason, statusForStop, timeLeftMs } from "./stop-conditions.js";
import { assertToolsStart } from "./tool-check.js";

export interface CampaignOptions {
  maxCycles?: number;
  maxHours?: number;
  convergence?: number;
  goal?: string;
  focus?: string[];
  resume?: boolean;
  llm?: LlmImprover;
  venv?: string;
  /** Progress lines (the CLI prints them, or JSON events with --json). */
  onEvent?: (e: CampaignEvent) => void;
  /** External stop (SIGINT/SIGTERM); the STOP file is polled too. */
  signal?: AbortSignal;
}

export type CampaignEvent =
  | { type: "log"; message: string }
  | { type: "cycle"; cycle: number; index: number; of: number }
  | { type: "step"; cycle: number; step: string; data?: Record<string, unknown> }
  | { type: "decision"; cycle: number; task: string; action: string; reason: string }
  | { type: "end"; reason: StopReason; exitCode: number };

export interface CampaignOutcome {
  campaignId: string;
  reason: StopReason;
  exitCode: ExitCode;
  cycles: number;
  promoted: number;
  rejected: number;
  reportPath?: string;
}

type Approach = FixerApproach | { kind: "llm"; name: string };

const approachId = (a: Approach) => `${a.kind}:${a.name}`;

/**
 * The campaign (roadmap E3): cycles of sandbox → gates → find work → fixers / LLM → policy + re-gate → decide →
 * snapshot + promote → lesson → report → destroy, until a stop condition holds. Every step is journaled, so a run
 * killed anywhere is recovered at the next start (`--resume` continues the same campaign).
 */
export class CampaignRunner {
  private events!: EventLog;
  private readonly store: CampaignStore;
  private memory!: CampaignMemory;
  private isolation!: IsolationDecision;
  private readonly abort = new AbortController();
  private stopWatcher?: NodeJS.Timeout;
  private campaignId = "";
  private record!: CampaignRecord;
  /** Sacred as this run last saw it: a change to its working tree or HEAD stops the campaign (watchSacred). */
  private sacredSeen!: Fingerprint;

  constructor(
    private readonly env: ImprovementEnvironment,
    private readonly opts: CampaignOptions = {},
  ) {
    this.store = new CampaignStore(env);
  }

  /** The campaign's id, once the run has it ("" before). */
  get id(): string {
    return this.campaignId;
  }

  private emit(e: CampaignEvent): void {
    this.opts.onEvent?.(e);
  }
  private log(message: string): void {
    this.emit({ type: "log", message });
  }

  private get venv(): string {
    return this.opts.venv ?? defaultVenvDir();
  }

  private stopRequested(): boolean {
    return this.abort.signal.aborted || existsSync(this.env.layout.stopRequest);
  }

  /** One campaign per root at a time: a second `run` (or a `rollback`) while one is going is refused. */
  async run(): Promise<CampaignOutcome> {
    const lock = WriterLock.acquire(
      this.env.guard,
      this.env.layout.runLock,
      `the campaign lock of ${this.env.root}`,
    );
    try {
      return await this.runLocked();
    } finally {
      lock.release();
    }
  }

  private async runLocked(): Promise<CampaignOutcome> {
    const cfg = this.env.config;
    const started = Date.now();
    const maxCycles = this.opts.maxCycles ?? cfg.stop_conditions.max_cycles;
    const maxHours = this.opts.maxHours ?? cfg.stop_conditions.max_hours;
    const convergence = this.opts.convergence ?? cfg.stop_conditions.convergence_cycles;

    // Before anything is written: a run that cannot be jailed as configured refuses to start.
    this.isolation = await resolveIsolation(cfg.isolation, { llm: this.opts.llm !== undefined });

    // Recovery first: whatever a killed run left, Master ends before or after a promotion, never between.
    const previous = readStatus(this.env.root);
    this.events = new EventLog(this.env.root, this.env.guard);
    await this.recover();
    rmSync(this.env.layout.stopRequest, { force: true });

    // A campaign stopped by its LLM budget is resumable too (with a larger budget): its spending is not reset.
    const resumeFrom =
      this.opts.resume &&
      previous &&
      (previous.status.status !== "completed" || previous.status.stop_reason === "BUDGET_EXHAUSTED")
        ? previous.status
        : undefined;
    this.campaignId =
      resumeFrom?.campaign_id ??
      `${new Date().toISOString().slice(0, 10).replace(/-/g, "")}-${randomBytes(3).toString("hex")}`;
    this.record = this.store.load(this.campaignId) ?? this.store.create(this.campaignId);
    this.memory = new CampaignMemory(this.env.layout.memory, { guard: this.env.guard });
    for (const w of this.memory.warnings) this.log(`memory: ${w}`);
    this.log(describeIsolation(this.isolation));
    await this.repositoryDependencies();
    this.events.append({
      type: "campaign_start",
      campaign: this.campaignId,
      resume: Boolean(resumeFrom),
      pid: process.pid,
      host: os.hostname(),
      isolation_warning: this.isolation.warning ?? null,
    });
    this.events.startHeartbeat();
    // The brain's budget goes on from what the earlier runs spent (status.json starts from them on a resume).
    const { llm } = this.events.status!;
    this.opts.llm?.budget.carryOver({ tokens: llm.tokens, costUsd: llm.cost_usd });
    this.avoided();
    const onSignal = () => this.abort.abort();
    this.opts.signal?.addEventListener("abort", onSignal, { once: true });
    this.stopWatcher = setInterval(() => {
      if (existsSync(this.env.layout.stopRequest)) this.abort.abort();
    }, 500);
    this.stopWatcher.unref();

    const campaignStart = resumeFrom ? Date.parse(resumeFrom.started_at) : started;
    this.sacredSeen = takeFingerprint(this.env.sacred);
    let reason: StopReason | null = null;
    let cyclesThisRun = 0;
    let lastFoundWork: boolean | undefined;
    try {
      for (;;) {
        this.sacredSeen = watchSacred(this.sacredSeen, this.env.sacred, {
          since: "this campaign started",
          warn: (m) => this.log(`warning: ${m}`),
        });
        const s = this.events.status!;
        reason = checkStop({
          cyclesCompleted: resumeFrom ? s.cycles_completed : cyclesThisRun,
          maxCycles,
          elapsedMs: Date.now() - campaignStart,
          maxHours,
          consecutiveNoLearning: s.convergence_counter,
          convergenceThreshold: convergence,
          stopRequested: this.stopRequested(),
          lastCycleFoundWork: lastFoundWork,
          tokensUsed: s.llm.tokens,
          spentUsd: s.llm.cost_usd,
          maxTokens: this.opts.llm?.budget.limits.maxTokens,
          maxCostUsd: this.opts.llm?.budget.limits.maxCostUsd,
        });
        if (reason) break;
        const cycle = this.nextCycleNumber();
        cyclesThisRun++;
        this.emit({ type: "cycle", cycle, index: cyclesThisRun, of: maxCycles });
        const deadline = Date.now() + timeLeftMs({ elapsedMs: Date.now() - campaignStart, maxHours });
        try {
          const r = await this.runCycle(cycle, deadline);
          lastFoundWork = r.foundWork;
        } catch (err) {
          // A stop request or the time budget ended the cycle mid-step: its sandbox is gone, Master untouched
          // (a promotion is never abandoned half-way: it does not listen to the signal).
          const cut: StopReason | null = this.stopRequested()
            ? "STOPPED"
            : Date.now() >= deadline
              ? "TIME_BUDGET_EXHAUSTED"
              : null;
          if (!cut) throw err;
          this.events.append({
            type: "step",
            campaign: this.campaignId,
            cycle,
            step: "cycle_end",
            data: { interrupted: cut },
          });
          this.log(`cycle ${cycle} interrupted: ${cut}`);
          reason = cut;
          break;
        }
      }
    } catch (err) {
      if (this.stopRequested()) reason = "STOPPED";
      else {
        this.events.append({
          type: "campaign_end",
          campaign: this.campaignId,
          state: "failed",
          reason: errorMessage(err),
          error: true,
        });
        throw err;
      }
    } finally {
      clearInterval(this.stopWatcher);
      this.events.stopHeartbeat();
      this.opts.signal?.removeEventListener("abort", onSignal);
      this.memory.close();
    }
    this.events.append({
      type: "campaign_end",
      campaign: this.campaignId,
      state: statusForStop(reason),
      reason,
    });
    const st = this.events.status!;
    const finalResult = await this.finalMasterGates().catch((e) => {
      this.log(`final gate run on Master failed: ${errorMessage(e)}`);
      return undefined;
    });
    const reportPath = await this.store.writeCampaignReport(this.campaignId, { convergence, finalResult });
    const exitCode = exitCodeForStop(reason);
    this.emit({ type: "end", reason, exitCode });
    return {
      campaignId: this.campaignId,
      reason,
      exitCode,
      cycles: st.cycles_completed,
      promoted: st.improvements_promoted,
      rejected: st.improvements_rejected,
      reportPath,
    };
  }

  /** Master's gates at the end (cached when nothing was promoted since the last baseline): the report's "after". */
  private async finalMasterGates(): Promise<GateResult | undefined> {
    const sandbox = await this.env.createSandbox("final", { reuse: true });
    try {
      const out = path.join(this.env.layout.stories, `final_${this.campaignId}`);
      mkdirSync(out, { recursive: true });
      const ctx = this.gateContext(sandbox.path, out);
      const cache = this.env.config.gates.cache
        ? new GateCache(this.env.layout.gateCache, this.env.guard)
        : undefined;
      return await checkGates(ctx, { cache, treeHash: await this.treeOf(sandbox) });
    } finally {
      await this.env.destroySandbox(sandbox, { recycle: true });
    }
  }

  /** A node or python repository's packages under the root, (re)installed when Master's manifests changed. */
  private async repositoryDependencies(): Promise<void> {
    const r = await ensureRepositoryDependencies(this.env, {
      venv: this.venv,
      log: (l) => this.log(l),
      signal: this.abort.signal,
    });
    if (r.status === "failed") this.log(`warning: ${r.message}\n  ${r.hint}`);
  }

  /** A gate context on a tree; commands that run the tree's code go through the jail when isolation is on. */
  private gateContext(workdir: string, outputDir: string, signal?: AbortSignal): GateContext {
    const env = this.env;
    return makeGateContext({
      workdir,
      config: env.config,
      goldenDir: env.layout.golden,
      outputDir,
      venv: this.venv,
      isolation: gateIsolation(env, this.isolation.mode),
      signal,
      dependencies: installedDependencies(env.layout),
      pythonPackages: env.layout.pythonPackages,
      log: (l) => this.log(l),
    });
  }

  private nextCycleNumber(): number {
    return nextCycleNumber(reduceJournal(this.events.all));
  }

  private step(cycle: number, step: (typeof CYCLE_STEPS)[number], data?: Record<string, unknown>): void {
    this.events.append({ type: "step", campaign: this.campaignId, cycle, step, ...(data ? { data } : {}) });
    this.emit({ type: "step", cycle, step, ...(data ? { data } : {}) });
  }

  /** One cycle. Always destroys its sandbox. */
  private async runCycle(cycle: number, deadline: number): Promise<{ foundWork: boolean }> {
    const env = this.env;
    const cycleName = `cycle_${String(cycle).padStart(3, "0")}`;
    const startedAt = new Date().toISOString();
    this.step(cycle, "cycle_start");
    const sandbox = await env.createSandbox(cycle, { reuse: true });
    this.step(cycle, "sandbox_created", { sandbox: sandbox.path, base: sandbox.baseCommit });
    const outRoot = path.join(env.layout.stories, cycleName);
    const cache = env.config.gates.cache ? new GateCache(env.layout.gateCache, env.guard) : undefined;
    const signal = this.cycleSignal(deadline);
    const ctxFor = (label: string) => {
      const out = path.join(outRoot, label);
      mkdirSync(out, { recursive: true });
      return this.gateContext(sandbox.path, out, signal);
    };
    let learned = false;
    let promoted = false;
    let rejected = false;
    let foundWork = false;
    const report: CycleReportData = {
      campaignId: this.campaignId,
      cycle,
      startedAt,
      task: null,
      gatesBefore: null,
      gatesAfter: null,
      decision: { action: "none", reason: "" },
    };
    try {
      this.events.append({ type: "phase", campaign: this.campaignId, cycle, name: "gates_before" });
      const before = ctxFor("before");
      await this.toolsStart(before);
      const baseline = await checkGates(before, { cache, treeHash: await this.treeOf(sandbox) });
      report.gatesBefore = summariseGates(baseline);
      this.gateRun(cycle, "before", report.gatesBefore);
      await env.cleanSandbox(sandbox); // drop what the gates wrote (test data, catalogs): it is not a candidate
      this.store.noteBaseline(this.record, baseline);
      const python = ["odibi", "python"].includes(env.config.profile);
      const missing = missingDependencyJudge(env.config.profile, sandbox.path);
      const envFailures = missing ? environmentFailures(baseline, missing) : [];
      this.step(cycle, "gates_before", {
        failing: baseline.runs.flatMap((r) => r.checks).filter((c) => c.status === "fail").length,
        ...(envFailures.length
          ? { environment: envFailures.length, needs: [...new Set(envFailures.map((f) => f.needs))] }
          : {}),
      });

      const ctx0 = ctxFor("probe");
      // Discovery reads Master's tree (blessed code), not the sandbox the gates just ran in.
      const discovered = python
        ? await discoverIssues(env.layout.master, { python: venvBin(this.venv, "python"), signal })
        : [];
      const notWork = notWorkGroups(discovered);
      if (notWork.length) {
        report.notWork = notWork;
        this.store.noteNotWork(this.record, notWork);
      }
      const oracle = oracleGlobs(env.config.profile);
      const workOpts = {
        focus: this.opts.focus ?? [],
        inOracle: (f: string) => oracleGlobOf(f, oracle) !== undefined,
        ...(missing ? { missingDependency: missing } : {}),
      };
      const all = listWork(baseline, discovered, [], this.memory, workOpts);
      // "No work" means nothing fails and nothing was discovered; avoided items are work we gave up on (convergence).
      // Failures that need a dependency installed are not work: no code change of ours fixes them.
      foundWork = listWork(baseline, discovered, [], { shouldAvoid: () => false }, workOpts).length > 0;
      const pick = this.pickTask(all, ctx0);
      if (!pick) {
        report.decision = {
          action: "none",
          reason: !foundWork
            ? envFailures.length
              ? `nothing to work on: the ${envFailures.length} failing check(s) left need dependencies the environment lacks (${[...new Set(envFailures.map((f) => f.needs))].slice(0, 3).join(", ")}), not code changes`
              : "nothing to work on: every gate is green and no issue was discovered"
            : all.length === 0
              ? "every open item is avoided (all its approaches failed): nothing left to try"
              : `${all.length} open item(s) need an LLM${this.opts.llm ? "" : " (configure one: `llm:` in config.yaml or --llm-provider)"}`,
        };
        this.step(cycle, "work_found", { task: null, open: all.length });
      } else {
        const { task, approaches } = pick;
        report.task = task;
        this.step(cycle, "work_found", {
          task: task.title,
          signature: task.signature,
          approaches: approaches.map(approachId),
        });
        let interrupted = false;
        for (const approach of approaches) {
          if (this.stopRequested() || Date.now() > deadline) {
            interrupted = true;
            break;
          }
          const r = await this.tryApproach(cycle, sandbox, task, approach, baseline, ctxFor, cache, report);
          learned ||= r.learned;
          if (r.promoted) {
            promoted = true;
            break;
          }
          rejected ||= r.rejected;
        }
        if (!promoted && !interrupted && this.approachesLeft(task, ctx0).length === 0) {
          // Every approach has now failed (or had failed before): record that in this cycle, so memory avoids the
          // signature from now on and the next cycle goes straight to other work.
          const lesson = this.lesson(cycle, task, { kind: "fixer", name: "exhausted" }, "no_change", {
            reason: "every available approach has failed on this signature; left for a human or an LLM",
          });
          this.remember(cycle, lesson);
          learned = true;
          if (approaches.length === 0) report.decision = { action: "none", reason: lesson.reason! };
        }
      }
      this.avoided();
      report.finishedAt = new Date().toISOString();
      writeReport(env.guard, env.root, cycleReportName(cycle), renderCycleReport(report));
      this.store.noteCycle(this.record, {
        cycle,
        task: report.task?.title ?? null,
        action: report.decision.action,
        reason: report.decision.reason,
      });
      this.step(cycle, "report_written");
    } finally {
      await env.destroySandbox(sandbox, { recycle: true });
    }
    this.step(cycle, "cycle_end", { promoted, learned, rejected, masterChanges: await this.masterChanges() });
    this.events.append({ type: "phase", campaign: this.campaignId, name: "idle" });
    this.events.append({
      type: "decision",
      campaign: this.campaignId,
      cycle,
      task: report.task?.title ?? "(none)",
      action: report.decision.action,
      reason: report.decision.reason,
    });
    this.emit({
      type: "decision",
      cycle,
      task: report.task?.title ?? "(none)",
      action: report.decision.action,
      reason: report.decision.reason,
    });
    return { foundWork };
  }

  /** The first task that still has an approach to try (or whose approaches are all spent: it gets avoided). */
  private pickTask(tasks: Task[], ctx: GateContext): { task: Task; approaches: Approach[] } | null {
    for (const task of tasks) {
      // No approach at all: it needs an LLM this campaign does not have, so it is not work for us.
      if (this.possibleApproaches(task, ctx).length === 0) continue;
      return { task, approaches: this.approachesLeft(task, ctx) };
    }
    return null;
  }

  private possibleApproaches(task: Task, ctx: GateContext): Approach[] {
    return [
      ...fixersFor(task, ctx),
      ...(this.opts.llm ? [{ kind: "llm" as const, name: this.opts.llm.name }] : []),
    ];
  }

  /** The approaches not yet spent on the task's signature (memory says which failed). */
  private approachesLeft(task: Task, ctx: GateContext): Approach[] {
    const failed = new Set(
      this.memory.getFailedApproaches(task.signature).map((l) => `${l.approach.kind}:${l.approach.name}`),
    );
    // An LLM approach may be retried (each attempt differs); a fixer that failed once will fail again.
    return this.possibleApproaches(task, ctx).filter((a) => a.kind === "llm" || !failed.has(approachId(a)));
  }

  private async tryApproach(
    cycle: number,
    sandbox: SandboxInfo,
    task: Task,
    approach: Approach,
    baseline: GateResult,
    ctxFor: (label: string) => GateContext,
    cache: GateCache | undefined,
    report: CycleReportData,
  ): Promise<{ promoted: boolean; rejected: boolean; learned: boolean }> {
    const env = this.env;
    const label = `after-${approach.name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60)}`;
    const ctx = ctxFor(label);
    report.approach = { kind: approach.kind, name: approach.name };
    let summary: string | undefined;
    let tokens: number | undefined;
    let costUsd: number | undefined;
    let llmFiles: string[] | undefined;
    let llmEnd: { error?: string; rejected?: { gate?: string; reason: string } } = {};
    if (approach.kind === "fixer") {
      const r = await runFixer(approach, ctx);
      summary = r.ok ? `ran ${approach.commands.map((c) => c.join(" ")).join("; ")}` : r.log.slice(-500);
    } else {
      const avoid = this.memory
        .getFailedApproaches(task.signature)
        .map((l) => `${l.approach.name}: ${l.reason ?? l.outcome}`);
      const r = await this.opts.llm!.improve({
        sandbox,
        task,
        baseline,
        ctx,
        avoid,
        similar: similarLessons(this.memory, task),
        goal: this.opts.goal,
        cycle,
        signal: ctx.signal ?? this.abort.signal,
        cache,
      });
      summary = r.summary;
      tokens = r.tokens;
      costUsd = r.costUsd;
      report.trajectories = r.trajectories.map((t) =>
        path.relative(env.layout.reports, t).split(path.sep).join("/"),
      );
      report.llm = { tokens: r.tokens, costUsd: r.costUsd ?? 0 };
      this.events.append({
        type: "model_call",
        campaign: this.campaignId,
        cycle,
        model: approach.name,
        tokens: r.tokens,
        cost_usd: r.costUsd ?? 0,
      });
      llmFiles = r.filesChanged;
      llmEnd = { error: r.error, rejected: r.rejected };
      if (r.oracleRestored?.length) report.oracleRestored = r.oracleRestored;
    }
    report.approach.summary = summary;
    // What the approach did is judged only if the tools could run meanwhile (a venv deleted is not its failure).
    await this.toolsStart(ctx);
    // No git command ran on a tree holding what git must not see: the candidate is rejected (policy rule
    // unsafe-git-path), the campaign goes on.
    const rejectUnsafe = async (e: UnsafeGitTreeError) => {
      const reason = `policy: ${unsafeGitViolations(e.paths)
        .map((v) => violationToCheck(v).message)
        .join("; ")}`;
      const lesson = this.lesson(cycle, task, approach, "rejected", {
        reason,
        gate: "policy",
        files: e.paths.map((p) => p.path),
        summary,
        tokens,
        costUsd,
      });
      this.step(cycle, "decided", { action: "reject", reason, lesson });
      this.remember(cycle, lesson);
      this.step(cycle, "lesson_recorded");
      report.decision = { action: "reject", reason };
      await this.resetSandbox(sandbox);
      return { promoted: false, rejected: true, learned: true };
    };
    let frozen: { commit: string; files: string[]; diff: string };
    try {
      // The tree is walked before any git command runs on it (ignoredByGit included).
      await assertSafeGitTree(sandbox.path, sandbox.baseCommit);
      // A path git ignores cannot be committed: that candidate is rejected, and only it.
      const ignored = rejectIgnoredPaths(await ignoredByGit(sandbox.path, llmFiles ?? []));
      if (ignored) {
        await this.resetSandbox(sandbox);
        const lesson = this.lesson(cycle, task, approach, "rejected", {
          reason: ignored.reason,
          gate: ignored.gate,
          files: llmFiles,
          summary,
          tokens,
          costUsd,
        });
        report.decision = { action: "reject", reason: ignored.reason };
        this.step(cycle, "decided", { action: "reject", reason: ignored.reason, lesson });
        this.remember(cycle, lesson);
        this.step(cycle, "lesson_recorded");
        return { promoted: false, rejected: true, learned: true };
      }
      const changed = llmFiles ?? (await env.sandboxChanges(sandbox));
      frozen = changed.length
        ? await env.freezeCandidate(sandbox, llmFiles)
        : { commit: sandbox.baseCommit, files: [], diff: "" };
    } catch (e) {
      if (!(e instanceof UnsafeGitTreeError)) throw e;
      return rejectUnsafe(e);
    }
    const { commit, files, diff } = frozen;
    this.step(cycle, "attempt_done", { approach: approachId(approach), files });
    if (files.length === 0) {
      await this.resetSandbox(sandbox);
      // An LLM's reverted attempts are not "no change": say what failed, for the next prompt and the report.
      const spent = { summary, tokens, costUsd };
      const lesson = llmEnd.error
        ? this.lesson(cycle, task, approach, "error", { reason: `LLM error: ${llmEnd.error}`, ...spent })
        : llmEnd.rejected
          ? this.lesson(cycle, task, approach, "rejected", { ...llmEnd.rejected, ...spent })
          : this.lesson(cycle, task, approach, "no_change", {
              reason: `${approach.name} made no change`,
              ...spent,
            });
      this.remember(cycle, lesson);
      const rejected = lesson.outcome === "rejected";
      report.decision = { action: rejected ? "reject" : "none", reason: lesson.reason! };
      return { promoted: false, rejected, learned: true };
    }
    const readers = await loadFileReaders(sandbox.path, sandbox.baseCommit, diff);
    // The gates judge the candidate with Master's oracle; the policy judges the candidate's diff, taken before.
    const restored = new Set(report.oracleRestored);
    const restore = async () => {
      for (const p of await restoreOracle(sandbox.path, sandbox.baseCommit, oracleGlobs(env.config.profile)))
        restored.add(p);
      report.oracleRestored = [...restored].sort();
    };
    let candidate: GateResult;
    try {
      await restore();
      candidate = await checkGates(ctx, {
        beforeRun: restore,
        policy: (d, c) => checkPolicy(d, c, readers),
        diff,
        failFast: true,
        baseline,
        target: task.kind === "failure" ? task : undefined,
        changedFiles: files,
        cache,
      });
      // The candidate's code ran in the gates: the tree is walked again before git touches it (promotion).
      await assertSafeGitTree(sandbox.path, sandbox.baseCommit);
    } catch (e) {
      if (!(e instanceof UnsafeGitTreeError)) throw e;
      return rejectUnsafe(e);
    }
    await this.toolsStart(ctx);
    const verdict = decideVerdict(
      baseline,
      candidate,
      task.kind === "failure" ? task : undefined,
      env.config.gates.mode,
    );
    const discovered = await discoveredIssueFacts(sandbox.path, sandbox.baseCommit, commit, task, files);
    const decision = decide(this.facts(verdict, candidate, files.length > 0, discovered));
    const unrelated = unrelatedFiles(task, files);
    if (unrelated.length) report.unrelatedFiles = unrelated;
    report.gatesAfter = summariseGates(candidate);
    this.gateRun(cycle, label, report.gatesAfter);
    report.newFailures = verdict.newFailures.map((c) => ({
      gate: c.gate,
      id: c.id,
      ...(c.message ? { message: c.message } : {}),
    }));
    report.diff = diff;
    report.decision = { action: decision.action, reason: decision.reason };
    const outcome = decision.action === "promote" ? "promoted" : "rejected";
    const lesson = this.lesson(cycle, task, approach, outcome, {
      reason: decision.reason,
      gate: decision.gate,
      files,
      summary,
      diffHash: createHash("sha256").update(diff).digest("hex").slice(0, 16),
      tokens,
      costUsd,
    });
    this.step(cycle, "decided", {
      action: decision.action,
      reason: decision.reason,
      lesson,
      oracleRestored: report.oracleRestored,
    });
    if (decision.action === "reject") {
      this.remember(cycle, lesson);
      this.step(cycle, "lesson_recorded");
      await this.resetSandbox(sandbox);
      return { promoted: false, rejected: true, learned: true };
    }
    const snap = await env.snapshotMaster(
      `before_cycle_${String(cycle).padStart(3, "0")}${report.approach ? "" : ""}`,
    );
    this.step(cycle, "snapshot_done", { snapshot: snap.name });
    this.step(cycle, "promote_begin", { previous: sandbox.baseCommit });
    const gatesPassed = [...new Set(candidate.runs.map((r) => r.gate))];
    const p = await env.promoteToMaster(sandbox, {
      cycleId: `cycle_${String(cycle).padStart(3, "0")}`,
      task: task.title,
      gatesPassed,
      details: `Approach: ${approachId(approach)}${summary ? `\n${summary.slice(0, 1000)}` : ""}`,
    });
    this.step(cycle, "promote_done", { commit: p.commit, previous: p.previous });
    this.remember(cycle, lesson);
    this.step(cycle, "lesson_recorded");
    report.snapshot = snap.name;
    report.commit = p.commit;
    this.store.notePromotion(this.record, {
      cycle,
      title: task.title,
      at: new Date().toISOString(),
      snapshot: snap.name,
      commit: p.commit,
      ...(report.llm ? { llm: report.llm } : {}),
    });
    return { promoted: true, rejected: false, learned: true };
  }

  /** Records a lesson in memory, and in the event log. */
  private remember(cycle: number, lesson: Lesson): void {
    this.memory.record(lesson);
    this.events.append({ type: "lesson", campaign: this.campaignId, cycle, lesson });
  }

  private gateRun(cycle: number, label: string, gates: CycleReportData["gatesBefore"]): void {
    this.events.append({ type: "gate_run", campaign: this.campaignId, cycle, label, gates: gates ?? [] });
  }

  private avoided(): void {
    const signatures = this.memory.avoidedIssues().map((a) => a.signature);
    this.events.append({ type: "avoided", campaign: this.campaignId, signatures });
  }

  private facts(
    v: GateVerdict,
    candidate: GateResult,
    changed: boolean,
    discoveredIssue: VerdictFacts["discoveredIssue"],
  ) {
    const policyRun = candidate.runs.find((r) => r.gate === "policy");
    const required = new Set<string>();
    const g = this.env.config.gates;
    if (g.require_ruff_clean) required.add("lint");
    if (g.require_pytest_pass) required.add("tests");
    if (g.require_odibi_validate) required.add("validate");
    if (g.require_golden_projects) required.add("golden");
    return {
      changed,
      policyViolations: (policyRun?.checks ?? [])
        .filter((c) => c.status === "fail")
        .map((c) => c.message ?? c.id),
      gateErrors: candidate.runs.filter((r) => r.error).map((r) => ({ gate: r.gate, message: r.error! })),
      newFailures: v.newFailures
        .filter((c) => c.gate !== "policy")
        .map((c) => ({ gate: c.gate, id: c.id, ...(c.message ? { message: c.message } : {}) })),
      remainingFailures: v.stillFailing.length,
      targetFixed: v.targetFixed ?? null,
      missingRequiredGates: v.notRun.filter((n) => required.has(n)),
      mode: this.env.config.gates.mode,
      discoveredIssue,
    } satisfies VerdictFacts;
  }

  private lesson(
    cycle: number,
    task: Task,
    approach: { kind: "fixer" | "llm"; name: string },
    outcome: Lesson["outcome"],
    x: {
      reason?: string;
      gate?: string;
      files?: string[];
      summary?: string;
      diffHash?: string;
      tokens?: number;
      costUsd?: number;
    },
  ): Lesson {
    return {
      campaignId: this.campaignId,
      cycleId: `cycle_${String(cycle).padStart(3, "0")}`,
      task: { kind: task.kind, target: task.target, signature: task.signature, title: task.title },
      approach: {
        kind: approach.kind,
        name: approach.name,
        ...(x.summary ? { summary: x.summary.slice(0, 2000) } : {}),
        ...(x.diffHash ? { diffHash: x.diffHash } : {}),
      },
      outcome,
      ...(x.gate ? { gate: x.gate } : {}),
      ...(x.reason ? { reason: x.reason } : {}),
      files: x.files ?? [],
      at: new Date().toISOString(),
      ...(x.tokens !== undefined ? { tokens: x.tokens } : {}),
      ...(x.costUsd !== undefined ? { costUsd: x.costUsd } : {}),
    };
  }

  /** Throws MissingTool when a configured tool cannot start (see tool-check.ts). */
  private async toolsStart(ctx: GateContext): Promise<void> {
    await assertToolsStart({
      commands: ctx.commands,
      env: ctx.env,
      ...(["odibi", "python"].includes(this.env.config.profile) ? { venv: this.venv } : {}),
      neutralDir: ctx.outputDir,
    });
  }

  private async resetSandbox(sandbox: SandboxInfo): Promise<void> {
    await this.env.cleanSandbox(sandbox);
  }

  private async treeOf(sandbox: SandboxInfo): Promise<string> {
    return (await git(sandbox.path, ["rev-parse", `${sandbox.baseCommit}^{tree}`])).trim();
  }

  private async masterChanges(): Promise<number> {
    const out = await git(this.env.layout.master, ["rev-list", "--count", "sacred..HEAD"]);
    return Number(out.trim());
  }

  /** Aborts with the campaign, and at the time budget (a running gate may overrun only by its own timeout). */
  private cycleSignal(deadline: number): AbortSignal {
    const left = Math.max(1, deadline - Date.now());
    return AbortSignal.any([
      this.abort.signal,
      AbortSignal.timeout(left + this.env.config.gates.timeout_seconds * 1000),
    ]);
  }

  /**
   * After a kill: finish what the journal says was in flight. A promotion that began either happened (Master moved:
   * its lesson is recorded from the journal) or did not (Master is unchanged); a half-done checkout is repaired;
   * orphan sandboxes are removed; the interrupted cycle is closed in the journal.
   */
  private async recover(): Promise<void> {
    const entries = reduceJournal(this.events.all);
    const last = entries.at(-1);
    await this.env.repairMaster();
    const orphans = await this.env.cleanupOrphans();
    if (orphans.length) this.log(`recovery: removed orphan sandbox(es) ${orphans.join(", ")}`);
    if (!last || last.step === "cycle_end" || last.step === "campaign_end" || last.step === "recovered")
      return;
    const cycle = last.cycle;
    const inCycle = entries.filter((e) => e.cycle === cycle && e.campaign === last.campaign);
    const has = (s: JournalEntry["step"]) => inCycle.some((e) => e.step === s);
    const decided = [...inCycle].reverse().find((e) => e.step === "decided");
    const begin = inCycle.find((e) => e.step === "promote_begin");
    let promotedNow = has("promote_done");
    if (begin && !promotedNow) {
      const head = await this.env.masterHead();
      promotedNow = head !== (begin.data?.previous as string | undefined);
    }
    const lessonMissing =
      decided && !has("lesson_recorded") && (promotedNow || decided.data?.action === "reject");
    if (lessonMissing) {
      const mem = new CampaignMemory(this.env.layout.memory, { guard: this.env.guard });
      try {
        const lesson = decided.data?.lesson as Lesson;
        mem.record(
          promotedNow
            ? { ...lesson, outcome: "promoted" }
            : lesson.outcome === "promoted"
              ? { ...lesson, outcome: "error", reason: "interrupted before promotion" }
              : lesson,
        );
      } finally {
        mem.close();
      }
    }
    this.events.append({
      type: "recovered",
      campaign: last.campaign,
      cycle,
      data: { interruptedAt: last.step, promoted: promotedNow, lessonRecovered: Boolean(lessonMissing) },
    });
    this.log(
      `recovery: cycle ${cycle} was interrupted at ${last.step}; Master is ${promotedNow ? "after" : "before"} its promotion`,
    );
  }
}
