import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { resolveUsageItem } from "../analysis/report.js";
import { fixersFor, runFixer } from "../brain/fixers.js";
import type { LlmImprover } from "../brain/llm-improver.js";
import { EnvironmentStateError, type ExitCode, errorMessage } from "../core/errors.js";
import type { DecisionWord, GateResult, Lesson, Task } from "../core/types.js";
import type { ImprovementEnvironment, SandboxInfo } from "../environment/environment.js";
import { git } from "../environment/git.js";
import { WriterLock } from "../environment/lock.js";
import { type Fingerprint, takeFingerprint, watchSacred } from "../environment/sacred.js";
import { installedDependencies } from "../environment/staged-install.js";
import { assertSafeGitTree, UnsafeGitTreeError } from "../environment/tree-safety.js";
import { EventLog } from "../events/log.js";
import { nextCycleNumber, reduceJournal } from "../events/reducers.js";
import { type CYCLE_STEPS, MAX_FAILING_LISTED } from "../events/schema.js";
import { describeIsolation, type IsolationDecision, resolveIsolation } from "../exec/jail.js";
import { GateCache } from "../gates/cache.js";
import { gateIsolation, makeGateContext } from "../gates/context.js";
import type { GateContext } from "../gates/gate.js";
import { applicableGates, checkGates, GatesStopped } from "../gates/pipeline.js";
import {
  applyTestPlan,
  planParallel,
  planSelection,
  serialTestsRun,
  type TestPlan,
} from "../gates/test-plan.js";
import { readCoverageStore } from "../harness/coverage.js";
import { readHarnessReport, resolveFinding, runHarnesses } from "../harness/run.js";
import { CampaignMemory } from "../memory/campaign-memory.js";
import {
  checkPolicy,
  isCollectedTestFile,
  isTestFileName,
  loadFileReaders,
  oracleGlobOf,
  oracleGlobs,
  restoreOracle,
  violationToCheck,
} from "../policy/index.js";
import { unsafeGitViolations } from "../policy/violation.js";
import { profileOf } from "../profiles/index.js";
import { notWorkGroups } from "../profiles/python/discover.js";
import { defaultVenvDir } from "../pyenv/python-env.js";
import { readStatus } from "../status/liveness.js";
import { failingChecks, flakyChecks, summariseGates } from "../status/metrics.js";
import { writeReport } from "../status/report-files.js";
import { cycleReportName, renderCycleReport } from "../status/reports.js";
import type { CycleReportData } from "../status/types.js";
import {
  type AssuredFacts,
  assureNewTests,
  coverageProbe,
  describeAssured,
  storedBaseline,
} from "./assure-tests.js";
import { rejectIgnoredPaths, unrelatedFiles } from "./candidate-checks.js";
import { discoveredIssueFacts, ignoredByGit } from "./candidate-facts.js";
import { COVERAGE_STORE, measureCoverageWork } from "./coverage-work.js";
import { type EnvironmentFailure, environmentFailures, harnessOfTarget } from "./find-work.js";
import { type CandidateFacts, judgeCandidate } from "./judge-candidate.js";
import { notifyEnd } from "./notify.js";
import {
  type Approach,
  approachesLeft,
  approachId,
  type CycleFacts,
  type CyclePlan,
  planCycle,
} from "./plan-cycle.js";
import { planRecoveries } from "./plan-recovery.js";
import {
  type Judgement,
  PromotionQueue,
  type Queued,
  type Settled,
  type Verification,
} from "./promotion-queue.js";
import { CampaignStore } from "./record.js";
import { similarLessons } from "./similar-lessons.js";
import { checkStop, exitCodeForStop, type StopReason, statusForStop, timeLeftMs } from "./stop-conditions.js";
import { assertToolsStart } from "./tool-check.js";
import { usageFacts } from "./usage-work.js";

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
  /** Tasks worked on at once (default `campaign.workers`). */
  workers?: number;
  /** How the promotion queue verifies candidates (default `campaign.verification`). */
  verification?: Verification;
}

export type CampaignEvent =
  | { type: "log"; message: string }
  | { type: "cycle"; cycle: number; index: number; of: number; worker?: number }
  | { type: "step"; cycle: number; step: string; data?: Record<string, unknown> }
  | { type: "decision"; cycle: number; task: string; action: DecisionWord; reason: string }
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

/** The campaign's stop conditions, from the options or the configuration. */
interface CampaignLimits {
  maxCycles: number;
  maxHours: number;
  convergence: number;
}

/** One cycle's sandbox and what every step of it uses. */
interface CycleRun {
  cycle: number;
  /** The worker slot running it (1 when the campaign has one worker). */
  worker: number;
  /** Gives the worker's slot to the next task while this cycle's candidate waits in the promotion queue. */
  release: () => void;
  deadline: number;
  sandbox: SandboxInfo;
  signal: AbortSignal;
  cache: GateCache | undefined;
  /** A gate context on the sandbox writing to the cycle's `<label>` output folder. */
  ctxFor: (label: string) => GateContext;
  report: CycleReportData;
}

interface AttemptOutcome {
  promoted: boolean;
  rejected: boolean;
  learned: boolean;
}

/** One approach's run: what it spent and, for an LLM, the files it reports and how it ended. */
interface Attempt {
  c: CycleRun;
  task: Task;
  approach: Approach;
  ctx: GateContext;
  baseline: GateResult;
  spent: { summary?: string; tokens?: number; costUsd?: number };
  llmFiles?: string[];
  llmEnd: { error?: string; rejected?: { gate?: string; reason: string } };
  /** A test-adding candidate's tests as the assured filters measured them. */
  assured?: AssuredFacts;
}

type FrozenCandidate = { commit: string; files: string[]; diff: string };

/** A candidate the judge passed, waiting in the promotion queue with what its re-judging needs. */
interface QueuedCandidate extends Queued {
  a: Attempt;
  frozen: FrozenCandidate;
  /** Its latest gate result: the cycle's (full, or the targeted step in batch verification), then the queue's. */
  candidate: GateResult;
  lesson: Lesson;
  facts: Pick<CandidateFacts, "discoveredIssue" | "harnessFixed">;
}

/** The cycles `parallelCycles` keeps going, its free worker slots and what the ended cycles said. */
interface WorkerPool {
  running: Map<number, Promise<void>>;
  free: Set<number>;
  started: number;
  /** Cycles that waited (their work was held by other cycles). */
  waited: number;
  /** A cycle waited: no new one starts until another ends. */
  blocked: boolean;
  lastFoundWork?: boolean;
  stop?: StopReason;
  failure?: { error: unknown };
  wake: () => void;
}

type MissingDependency = ReturnType<NonNullable<GateContext["profile"]["missingDependencies"]>> | undefined;

type ResumeFrom = NonNullable<ReturnType<typeof readStatus>>["status"];

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
  /** How the tests gate runs on the current Master (planTests). */
  private testPlan?: TestPlan;
  private campaignId = "";
  /** Sacred as this run last saw it: a change to its working tree or HEAD stops the campaign (watchSacred). */
  private sacredSeen!: Fingerprint;
  private queue!: PromotionQueue<QueuedCandidate>;
  /** Master's full gate result at one commit (a cycle's baseline, a verified candidate): the queue's baseline. */
  private masterGates?: { head: string; result: GateResult };
  /** What the queue verified last, and the candidate whose promotion makes that tree Master's. */
  private verified?: { last: QueuedCandidate; result: GateResult };
  /** The task signatures running cycles work on (signature → cycle): no other cycle picks them. */
  private readonly claimed = new Map<string, number>();
  /** The task signatures this run promoted: a cycle planning on an older Master does not pick them again. */
  private readonly promotedSignatures = new Set<string>();
  /** The promotion queue's sandbox, where candidates are re-applied on Master and gated. */
  private queueSandbox?: SandboxInfo;

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

  private get workers(): number {
    return this.opts.workers ?? this.env.config.campaign.workers;
  }

  private get verification(): Verification {
    return this.opts.verification ?? this.env.config.campaign.verification;
  }

  /** A stop was requested: the signal, or the STOP file (seen here first, it aborts what is running at once). */
  private stopRequested(): boolean {
    if (!this.abort.signal.aborted && existsSync(this.env.layout.stopRequest)) this.abort.abort();
    return this.abort.signal.aborted;
  }

  /** Between a cycle's steps: after a stop request the next step does not start (interruptedCycle ends the cycle). */
  private stopPoint(): void {
    if (this.stopRequested()) throw new GatesStopped();
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
    const limits: CampaignLimits = {
      maxCycles: this.opts.maxCycles ?? cfg.stop_conditions.max_cycles,
      maxHours: this.opts.maxHours ?? cfg.stop_conditions.max_hours,
      convergence: this.opts.convergence ?? cfg.stop_conditions.convergence_cycles,
    };
    const resumeFrom = await this.startCampaign(limits);
    const unwatch = this.watchStopRequests();
    // The time budget counts running time only: on --resume, the earlier runs' (not the time between them).
    const campaignStart = started - this.events.status!.elapsed_hours * 3_600_000;
    this.sacredSeen = takeFingerprint(this.env.sacred);
    this.queue = new PromotionQueue<QueuedCandidate>(
      {
        head: () => this.env.masterHead(),
        verify: (items) => this.verifyQueued(items),
        promote: (q) => this.promoteQueued(q),
      },
      this.verification,
    );
    let reason: StopReason;
    try {
      reason = await this.cycles(limits, campaignStart, resumeFrom !== undefined);
    } catch (err) {
      if (!this.stopRequested()) this.failCampaign(err);
      reason = "STOPPED";
    } finally {
      unwatch();
      this.events.stopHeartbeat();
      this.memory.close();
      if (this.queueSandbox) await this.env.destroySandbox(this.queueSandbox, { recycle: true });
    }
    return this.endCampaign(reason);
  }

  /**
   * Recovery, then the campaign's identity and state: a new campaign, or the one `--resume` continues. Returns the
   * status it resumes from.
   */
  private async startCampaign(limits: CampaignLimits): Promise<ResumeFrom | undefined> {
    // Before anything is written: a run that cannot be jailed as configured refuses to start.
    this.isolation = await resolveIsolation(this.env.config.isolation, { llm: this.opts.llm !== undefined });

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
      limits: { max_cycles: limits.maxCycles, max_hours: limits.maxHours },
    });
    this.events.startHeartbeat();
    // The brain's budget goes on from what the earlier runs spent (status.json starts from them on a resume).
    const { llm } = this.events.status!;
    this.opts.llm?.budget.carryOver({ tokens: llm.tokens, costUsd: llm.cost_usd });
    this.avoided();
    return resumeFrom;
  }

  /** SIGINT/SIGTERM (the signal) and the STOP file abort the campaign. Returns the function that stops watching. */
  private watchStopRequests(): () => void {
    const onSignal = () => this.abort.abort();
    this.opts.signal?.addEventListener("abort", onSignal, { once: true });
    this.stopWatcher = setInterval(() => {
      if (existsSync(this.env.layout.stopRequest)) this.abort.abort();
    }, 500);
    this.stopWatcher.unref();
    return () => {
      clearInterval(this.stopWatcher);
      this.opts.signal?.removeEventListener("abort", onSignal);
    };
  }

  /** Cycles until a stop condition holds; returns it. */
  private async cycles(limits: CampaignLimits, campaignStart: number, resumed: boolean): Promise<StopReason> {
    if (this.workers > 1) return this.parallelCycles(limits, campaignStart, resumed);
    let cyclesThisRun = 0;
    let lastFoundWork: boolean | undefined;
    for (;;) {
      const reason = this.stopCondition(
        limits,
        campaignStart,
        resumed ? undefined : cyclesThisRun,
        lastFoundWork,
      );
      if (reason) return reason;
      const cycle = this.nextCycleNumber();
      cyclesThisRun++;
      this.emit({ type: "cycle", cycle, index: cyclesThisRun, of: limits.maxCycles });
      const deadline =
        Date.now() + timeLeftMs({ elapsedMs: Date.now() - campaignStart, maxHours: limits.maxHours });
      try {
        const r = await this.runCycle(cycle, deadline, { worker: 1, release: () => {} });
        lastFoundWork = r.foundWork;
      } catch (err) {
        return this.interruptedCycle(cycle, deadline, err);
      }
    }
  }

  /**
   * `workers` cycles at once, each in its own sandbox: a worker's slot starts the next cycle when its cycle ends or
   * its candidate waits in the promotion queue. A cycle that found only work other cycles hold ("waited") lets no
   * new cycle start until another one ends. A failed cycle lets the others end, then its error goes on.
   */
  private async parallelCycles(
    limits: CampaignLimits,
    campaignStart: number,
    resumed: boolean,
  ): Promise<StopReason> {
    const pool: WorkerPool = {
      running: new Map(),
      free: new Set(Array.from({ length: this.workers }, (_, i) => i + 1)),
      started: 0,
      waited: 0,
      blocked: false,
      wake: () => {},
    };
    for (;;) {
      if (!pool.stop && !pool.failure && pool.free.size > 0 && !pool.blocked) {
        // A cycle that waited did no work: it does not count towards --max-cycles.
        const counted =
          (resumed ? this.events.status!.cycles_completed + pool.running.size : pool.started) - pool.waited;
        pool.stop = this.stopCondition(limits, campaignStart, counted, pool.lastFoundWork) ?? undefined;
        if (!pool.stop) {
          this.startPooledCycle(pool, limits, campaignStart);
          continue;
        }
      }
      if (pool.running.size === 0) break;
      await new Promise<void>((r) => {
        pool.wake = r;
      });
    }
    if (pool.failure) throw pool.failure.error;
    return pool.stop ?? "STOPPED";
  }

  /** The next cycle on the lowest free worker slot; what it ends with goes into the pool. */
  private startPooledCycle(pool: WorkerPool, limits: CampaignLimits, campaignStart: number): void {
    const cycle = Math.max(this.nextCycleNumber(), ...[...pool.running.keys()].map((k) => k + 1));
    const worker = Math.min(...pool.free);
    pool.free.delete(worker);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      pool.free.add(worker);
      pool.wake();
    };
    this.emit({ type: "cycle", cycle, index: ++pool.started, of: limits.maxCycles, worker });
    const deadline =
      Date.now() + timeLeftMs({ elapsedMs: Date.now() - campaignStart, maxHours: limits.maxHours });
    let waited = false;
    const p = this.runCycle(cycle, deadline, { worker, release })
      .then(
        (r) => {
          pool.lastFoundWork = r.foundWork;
          waited = r.waited;
          if (waited) pool.waited++;
        },
        (err) => {
          try {
            pool.stop ??= this.interruptedCycle(cycle, deadline, err);
          } catch (e) {
            pool.failure ??= { error: e };
          }
        },
      )
      .finally(() => {
        pool.running.delete(cycle);
        pool.blocked = waited && pool.running.size > 0;
        release();
        pool.wake();
      });
    pool.running.set(cycle, p);
  }

  /** The stop condition that holds before the next cycle, if any (Sacred is watched here too). */
  private stopCondition(
    limits: CampaignLimits,
    campaignStart: number,
    cyclesThisRun: number | undefined,
    lastFoundWork: boolean | undefined,
  ): StopReason | null {
    this.sacredSeen = watchSacred(this.sacredSeen, this.env.sacred, {
      since: "this campaign started",
      warn: (m) => this.log(`warning: ${m}`),
    });
    const s = this.events.status!;
    return checkStop({
      cyclesCompleted: cyclesThisRun ?? s.cycles_completed,
      maxCycles: limits.maxCycles,
      elapsedMs: Date.now() - campaignStart,
      maxHours: limits.maxHours,
      consecutiveNoLearning: s.convergence_counter,
      convergenceThreshold: limits.convergence,
      stopRequested: this.stopRequested(),
      lastCycleFoundWork: lastFoundWork,
      tokensUsed: s.llm.tokens,
      spentUsd: s.llm.cost_usd,
      maxTokens: this.opts.llm?.budget.limits.maxTokens,
      maxCostUsd: this.opts.llm?.budget.limits.maxCostUsd,
    });
  }

  /**
   * A cycle that threw: a stop request or the time budget ended it mid-step (its sandbox is gone, Master untouched:
   * a promotion is never abandoned half-way, it does not listen to the signal). Anything else is rethrown.
   */
  private interruptedCycle(cycle: number, deadline: number, err: unknown): StopReason {
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
    return cut;
  }

  /** The campaign failed (not stopped): the event log (hence status) says so, and the error goes on. */
  private failCampaign(err: unknown): never {
    this.events.append({
      type: "campaign_end",
      campaign: this.campaignId,
      state: "failed",
      reason: errorMessage(err),
      error: true,
    });
    throw err;
  }

  /** The end event, Master's final gates and the campaign report; the outcome. */
  private async endCampaign(reason: StopReason): Promise<CampaignOutcome> {
    this.events.append({
      type: "campaign_end",
      campaign: this.campaignId,
      state: statusForStop(reason),
      reason,
    });
    const st = this.events.status!;
    const final = await this.finalMasterGates(reason).catch((e) => {
      this.log(`final gate run on Master failed: ${errorMessage(e)}`);
      return undefined;
    });
    if (final) {
      const missing = profileOf(this.env.config.profile).missingDependencies?.(this.env.layout.master);
      this.masterRun(st.current_cycle, "final", final, missing);
    }
    const reportPath = await this.store.writeCampaignReport(this.campaignId);
    await notifyEnd(
      this.env.config.notify,
      {
        campaign: this.campaignId,
        root: this.env.root,
        status: st.status,
        reason,
        cycles: st.cycles_completed,
        promoted: st.improvements_promoted,
        rejected: st.improvements_rejected,
        elapsed_hours: st.elapsed_hours,
        cost_usd: st.llm.cost_usd,
        report: reportPath,
      },
      (l) => this.log(l),
    );
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

  /**
   * Master's gates at the end (cached when nothing was promoted since the last baseline): the report's "after".
   * After a stop request or the time budget nothing new starts: only a result in the gate cache for Master's tree is
   * used, else the report's "after" is the last baseline the campaign saw.
   */
  private async finalMasterGates(reason: StopReason): Promise<GateResult | undefined> {
    const why =
      this.stopRequested() || reason === "STOPPED"
        ? "stop requested"
        : reason === "TIME_BUDGET_EXHAUSTED"
          ? "time budget exhausted"
          : undefined;
    const cache = this.env.config.gates.cache
      ? new GateCache(this.env.layout.gateCache, this.env.guard)
      : undefined;
    const skipped = () => {
      this.log(`final Master check skipped: ${why}; the report's "after" is the last baseline`);
      return undefined;
    };
    if (why && !cache) return skipped();
    const sandbox = await this.env.createSandbox("final", { reuse: true });
    // checkGates awaits beforeRun before every gate it runs, never for a cached result: a stop runs nothing.
    const notCached = new Error("not in the gate cache");
    try {
      const out = path.join(this.env.layout.stories, `final_${this.campaignId}`);
      mkdirSync(out, { recursive: true });
      const ctx = this.gateContext(sandbox.path, out);
      const cachedOnly = why ? { beforeRun: () => Promise.reject(notCached) } : {};
      return await checkGates(ctx, { cache, treeHash: await this.treeOf(sandbox), ...cachedOnly });
    } catch (e) {
      if (e === notCached) return skipped();
      throw e;
    } finally {
      await this.env.destroySandbox(sandbox, { recycle: true });
    }
  }

  /** A node or python repository's packages under the root, (re)installed when Master's manifests changed. */
  private async repositoryDependencies(): Promise<void> {
    const install = profileOf(this.env.config.profile).installDependencies;
    if (!install) return;
    const r = await install(this.env, {
      venv: this.venv,
      log: (l) => this.log(l),
      signal: this.abort.signal,
    });
    if (r.status === "failed") this.log(`warning: ${r.message}\n  ${r.hint}`);
  }

  /**
   * How the tests gate runs on this Master (xdist or serial), decided on its fresh sandbox before the baseline;
   * every later gate context of the campaign gets it (`gateContext`), with the coverage map once it is built.
   */
  private async planTests(
    before: GateContext,
    sandbox: SandboxInfo,
    baseline?: GateResult,
  ): Promise<TestPlan | undefined> {
    if (!applicableGates(before).some((g) => g.name === "tests")) return undefined;
    const store = { dir: this.env.layout.testPlans, guard: this.env.guard };
    const serial = baseline && serialTestsRun(baseline);
    const plan = await planParallel(before, store, serial ? { serial } : { knownOnly: true });
    if (serial) await this.env.cleanSandbox(sandbox); // the check ran the suite: its leftovers are not Master's
    if (plan) this.testPlan = applyTestPlan(before, plan) && plan;
    return plan;
  }

  /** A gate context on a tree; commands that run the tree's code go through the jail when isolation is on. */
  private gateContext(workdir: string, outputDir: string, signal?: AbortSignal): GateContext {
    return applyTestPlan(this.makeContext(workdir, outputDir, signal), this.testPlan);
  }

  private makeContext(workdir: string, outputDir: string, signal?: AbortSignal): GateContext {
    const env = this.env;
    return makeGateContext({
      workdir,
      config: env.config,
      profile: profileOf(env.config.profile),
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

  /**
   * One cycle. Always destroys its sandbox and gives up its task. `waited`: the only work it found is held by other
   * cycles (parallel workers).
   */
  private async runCycle(
    cycle: number,
    deadline: number,
    slot: Pick<CycleRun, "worker" | "release">,
  ): Promise<{ foundWork: boolean; waited: boolean }> {
    const c = await this.beginCycle(cycle, deadline, slot);
    let outcome: AttemptOutcome = { promoted: false, rejected: false, learned: false };
    let foundWork = false;
    let waited = false;
    try {
      const { baseline, missing } = await this.baselineGates(c);
      const { plan, facts } = await this.planWork(c, baseline, missing);
      foundWork = plan.foundWork;
      waited = !plan.pick && this.claimedByOthers(cycle).length > 0;
      if (plan.pick) outcome = await this.workOn(c, baseline, plan.pick, facts);
      this.writeCycleReport(c);
    } finally {
      for (const [sig, owner] of this.claimed) if (owner === cycle) this.claimed.delete(sig);
      await this.env.destroySandbox(c.sandbox, { recycle: true });
    }
    await this.endCycle(c, outcome, waited);
    return { foundWork, waited };
  }

  /** The cycles other than `cycle` holding a task now. */
  private claimedByOthers(cycle: number): number[] {
    return [...new Set([...this.claimed.values()].filter((o) => o !== cycle))];
  }

  /** The cycle's sandbox, its gate contexts (one output folder per label) and its report. */
  private async beginCycle(
    cycle: number,
    deadline: number,
    slot: Pick<CycleRun, "worker" | "release">,
  ): Promise<CycleRun> {
    const env = this.env;
    const cycleName = `cycle_${String(cycle).padStart(3, "0")}`;
    const startedAt = new Date().toISOString();
    this.step(cycle, "cycle_start", this.workers > 1 ? { worker: slot.worker } : undefined);
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
    const report: CycleReportData = {
      campaignId: this.campaignId,
      cycle,
      startedAt,
      task: null,
      gatesBefore: null,
      gatesAfter: null,
      decision: { action: "no_change", reason: "" },
    };
    return { cycle, ...slot, deadline, sandbox, signal, cache, ctxFor, report };
  }

  /** Master's gates on the fresh sandbox: the baseline, and which failures want a dependency rather than code. */
  private async baselineGates(c: CycleRun): Promise<{ baseline: GateResult; missing: MissingDependency }> {
    const { cycle, sandbox, report } = c;
    const env = this.env;
    this.stopPoint();
    this.events.append({ type: "phase", campaign: this.campaignId, cycle, name: "gates_before" });
    const before = c.ctxFor("before");
    await this.toolsStart(before);
    const treeHash = await this.treeOf(sandbox);
    // xdist or serial: known for this suite, or checked against the serial baseline just run.
    let plan = await this.planTests(before, sandbox);
    const baseline = await checkGates(before, { cache: c.cache, treeHash });
    report.gatesBefore = summariseGates(baseline);
    if (sandbox.baseCommit === (await env.masterHead()))
      this.masterGates = { head: sandbox.baseCommit, result: baseline };
    await env.cleanSandbox(sandbox); // drop what the gates wrote (test data, catalogs): it is not a candidate
    plan ??= await this.planTests(before, sandbox, baseline);
    if (plan) {
      plan.map = await planSelection(before, { dir: env.layout.testPlans, guard: env.guard, treeHash });
      await env.cleanSandbox(sandbox);
    }
    const missing = before.profile.missingDependencies?.(sandbox.path);
    const envFailures = this.masterRun(cycle, "before", baseline, missing);
    this.step(cycle, "gates_before", {
      failing: baseline.runs.flatMap((r) => r.checks).filter((c) => c.status === "fail").length,
      ...(plan
        ? {
            tests: plan.workers ? `parallel (-n ${plan.workers})` : "serial",
            tests_reason: plan.parallel.reason,
            ...(plan.map && "missing" in plan.map ? { selection: `by files: ${plan.map.missing}` } : {}),
          }
        : {}),
      ...(envFailures.length
        ? { environment: envFailures.length, needs: [...new Set(envFailures.map((f) => f.needs))] }
        : {}),
    });
    return { baseline, missing };
  }

  /**
   * Coverage gaps as tasks (coverage-work.ts): the tests' coverage of Master's package, measured on the cycle's
   * sandbox before any approach ran and cached by Master's tree hash in `<state>/coverage.json` (measured again
   * after a promotion), with the last `harness run --coverage` merged in. A measure that fails is logged: no tasks.
   */
  private async coverageWork(c: CycleRun): Promise<Task[]> {
    const env = this.env;
    const ctx = c.ctxFor("coverage");
    const treeHash = await this.treeOf(c.sandbox);
    try {
      const found = await measureCoverageWork(ctx, {
        storeFile: path.join(env.layout.state, COVERAGE_STORE),
        treeHash,
        goldenDir: env.layout.golden,
      });
      if (!found) return [];
      const t = found.summary.totals;
      this.events.append({
        type: "coverage",
        campaign: this.campaignId,
        cycle: c.cycle,
        coverage: {
          at: found.summary.measuredAt,
          tree: treeHash,
          measured_by: found.summary.measuredBy,
          percent: t.percent,
          lines: { covered: t.covered, total: t.statements },
          branches: { covered: t.coveredBranches, total: t.branches },
          tasks: found.tasks.length,
        },
      });
      this.log(
        `coverage: ${t.percent}% of the package (${found.summary.measuredBy}); ${found.tasks.length} gap(s)`,
      );
      return found.tasks;
    } catch (e) {
      if (c.signal.aborted) throw e;
      this.log(`coverage: not measured: ${errorMessage(e)}`);
      return [];
    } finally {
      await env.cleanSandbox(c.sandbox);
    }
  }

  /** Discovery on Master's code, then the plan: the cycle's task and approaches, or why there is none. */
  private async planWork(
    c: CycleRun,
    baseline: GateResult,
    missing: MissingDependency,
  ): Promise<{ plan: CyclePlan; facts: CycleFacts }> {
    const { cycle, report } = c;
    const env = this.env;
    this.stopPoint();
    const ctx0 = c.ctxFor("probe");
    // Discovery reads Master's tree (blessed code), not the sandbox the gates just ran in.
    const discover = profileOf(env.config.profile).discover;
    const discovered = discover
      ? await discover(env.layout.master, { venv: this.venv, signal: c.signal })
      : [];
    const notWork = notWorkGroups(discovered);
    if (notWork.length) {
      report.notWork = notWork;
      this.events.append({ type: "not_work", campaign: this.campaignId, cycle, groups: notWork });
    }
    const oracle = oracleGlobs(env.config.profile);
    const facts: CycleFacts = {
      baseline,
      discovered,
      memory: this.approachMemory(cycle, c.sandbox.baseCommit !== (await env.masterHead())),
      fixers: (t) => fixersFor(t, ctx0),
      ...(this.opts.llm ? { llm: this.opts.llm.name } : {}),
      focus: this.opts.focus ?? [],
      inOracle: (f: string) => oracleGlobOf(f, oracle) !== undefined,
      ...(missing ? { missingDependency: missing } : {}),
      harnessFindings: readHarnessReport(env.layout.golden)?.findings ?? [],
      ...usageFacts(env.layout.reports, env.config.policy.allow_new_features),
    };
    let plan = planCycle(facts);
    // The last tier, coverage gaps (test-adding tasks for a model), is measured only when nothing else is left.
    if (!plan.pick && this.opts.llm) {
      facts.coverageTasks = await this.coverageWork(c);
      if (facts.coverageTasks.length) plan = planCycle(facts);
    }
    this.events.append({
      type: "waiting",
      campaign: this.campaignId,
      cycle,
      total: plan.waiting.length,
      items: plan.waiting.slice(0, 50).map((t) => ({ title: t.title, kind: t.kind, target: t.target })),
    });
    if (!plan.pick) {
      const others = plan.foundWork ? this.claimedByOthers(cycle) : [];
      const reason = others.length
        ? `the open items are being worked on by other workers (cycle ${others.join(", ")})`
        : plan.reason!;
      report.decision = { action: "no_change", reason };
      this.step(cycle, "work_found", { task: null, open: plan.open });
    } else {
      const { task, approaches } = plan.pick;
      this.claimed.set(task.signature, cycle);
      report.task = task;
      this.step(cycle, "work_found", {
        task: task.title,
        signature: task.signature,
        approaches: approaches.map(approachId),
      });
    }
    return { plan, facts };
  }

  /**
   * The task's approaches in turn until one is promoted (or the cycle is stopped). When every approach has failed,
   * that is recorded in this cycle: memory avoids the signature from now on and the next cycle goes to other work.
   */
  private async workOn(
    c: CycleRun,
    baseline: GateResult,
    pick: { task: Task; approaches: Approach[] },
    facts: CycleFacts,
  ): Promise<AttemptOutcome> {
    const { task, approaches } = pick;
    const out: AttemptOutcome = { promoted: false, rejected: false, learned: false };
    let interrupted = false;
    for (const approach of approaches) {
      if (this.stopRequested() || Date.now() > c.deadline) {
        interrupted = true;
        break;
      }
      const r = await this.tryApproach(c, task, approach, baseline);
      out.learned ||= r.learned;
      if (r.promoted) {
        out.promoted = true;
        break;
      }
      out.rejected ||= r.rejected;
    }
    if (!out.promoted && !interrupted && approachesLeft(facts, task).length === 0) {
      const lesson = this.lesson(c.cycle, task, { kind: "fixer", name: "exhausted" }, "no_change", {
        reason: "every available approach has failed on this signature; left for a human or an LLM",
      });
      this.remember(c.cycle, lesson);
      out.learned = true;
      if (approaches.length === 0) c.report.decision = { action: "no_change", reason: lesson.reason! };
    }
    return out;
  }

  /** The cycle's report file and its line in the campaign record. */
  private writeCycleReport(c: CycleRun): void {
    const { cycle, report } = c;
    this.avoided();
    report.finishedAt = new Date().toISOString();
    writeReport(this.env.guard, this.env.root, cycleReportName(cycle), renderCycleReport(report));
    this.step(cycle, "report_written");
  }

  private async endCycle(
    c: CycleRun,
    { promoted, rejected, learned }: AttemptOutcome,
    waited: boolean,
  ): Promise<void> {
    const { cycle, report } = c;
    this.step(cycle, "cycle_end", {
      promoted,
      learned,
      rejected,
      masterChanges: await this.masterChanges(),
      ...(waited ? { waited } : {}),
    });
    this.events.append({ type: "phase", campaign: this.campaignId, name: "idle" });
    this.events.append({
      type: "decision",
      campaign: this.campaignId,
      cycle,
      task: report.task?.title ?? null,
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
  }

  /** Records a lesson in memory, and in the event log. */
  private remember(cycle: number, lesson: Lesson): void {
    this.memory.record(lesson);
    this.events.append({ type: "lesson", campaign: this.campaignId, cycle, lesson });
  }

  /**
   * A gate run on Master (the cycle's baseline, or the final check) into the event log, with its failing, flaky and
   * environment-caused checks: the campaign report is derived from these. Returns the environment failures.
   */
  private masterRun(
    cycle: number,
    label: "before" | "final",
    result: GateResult,
    missing: MissingDependency,
  ): EnvironmentFailure[] {
    const environment = missing ? environmentFailures(result, missing) : [];
    const failing = failingChecks(result, MAX_FAILING_LISTED);
    this.events.append({
      type: "gate_run",
      campaign: this.campaignId,
      cycle,
      label,
      gates: summariseGates(result) ?? [],
      master: {
        failing: failing.listed,
        failing_total: failing.total,
        flaky: flakyChecks([result]).map(({ gate, id }) => ({ gate, id })),
        environment,
      },
    });
    return environment;
  }

  private gateRun(cycle: number, label: string, gates: CycleReportData["gatesBefore"]): void {
    this.events.append({ type: "gate_run", campaign: this.campaignId, cycle, label, gates: gates ?? [] });
  }

  private avoided(): void {
    const signatures = this.memory.avoidedIssues().map((a) => a.signature);
    this.events.append({ type: "avoided", campaign: this.campaignId, signatures });
  }

  /**
   * Memory as planning reads it: avoided signatures (and those other running cycles hold, and, for a cycle whose
   * sandbox is older than Master, those promoted since), and the approaches that failed on one (`kind:name`).
   */
  private approachMemory(cycle: number, staleBase: boolean): CycleFacts["memory"] {
    return {
      shouldAvoid: (sig) =>
        (this.claimed.has(sig) && this.claimed.get(sig) !== cycle) ||
        (staleBase && this.promotedSignatures.has(sig)) ||
        this.memory.shouldAvoid(sig),
      failedApproaches: (sig) => this.memory.getFailedApproaches(sig).map((l) => approachId(l.approach)),
    };
  }

  /** One approach on the task: run it, freeze what it changed, gate and judge the candidate, promote or reject. */
  private async tryApproach(
    c: CycleRun,
    task: Task,
    approach: Approach,
    baseline: GateResult,
  ): Promise<AttemptOutcome> {
    const label = `after-${approach.name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60)}`;
    const ctx = c.ctxFor(label);
    c.report.approach = { kind: approach.kind, name: approach.name };
    const a = await this.runApproach(c, task, approach, baseline, ctx);
    c.report.approach.summary = a.spent.summary;
    // An approach cut by a stop is neither judged nor learned from.
    this.stopPoint();
    // What the approach did is judged only if the tools could run meanwhile (a venv deleted is not its failure).
    await this.toolsStart(ctx);
    let frozen: FrozenCandidate | AttemptOutcome;
    try {
      frozen = await this.freeze(a);
    } catch (e) {
      return this.rejectUnsafe(a, e);
    }
    if (!("commit" in frozen)) return frozen;
    this.step(c.cycle, "attempt_done", { approach: approachId(approach), files: frozen.files });
    if (frozen.files.length === 0) return this.noChange(a);
    const filtered = task.kind === "coverage" ? await this.assureTests(a, frozen) : undefined;
    if (filtered) return filtered;
    let candidate: GateResult;
    try {
      candidate = await this.gateCandidate(a, frozen);
    } catch (e) {
      return this.rejectUnsafe(a, e);
    }
    await this.toolsStart(ctx);
    const { lesson, facts } = await this.judge(a, frozen, candidate);
    if (lesson.outcome === "promoted") {
      const gatedOn = this.verification === "candidate" ? { gatedOn: c.sandbox.baseCommit } : {};
      return this.enqueue({ a, frozen, candidate, lesson, facts, ...gatedOn });
    }
    this.remember(c.cycle, lesson);
    this.step(c.cycle, "lesson_recorded");
    await this.resetSandbox(c.sandbox);
    return { promoted: false, rejected: true, learned: true };
  }

  /** Runs a fixer, or the LLM (with what memory says to avoid and similar lessons); what it spent and changed. */
  private async runApproach(
    c: CycleRun,
    task: Task,
    approach: Approach,
    baseline: GateResult,
    ctx: GateContext,
  ): Promise<Attempt> {
    const a: Attempt = { c, task, approach, ctx, baseline, spent: {}, llmEnd: {} };
    if (approach.kind === "fixer") {
      const r = await runFixer(approach, ctx);
      a.spent.summary = r.ok
        ? `ran ${approach.commands.map((cmd) => cmd.join(" ")).join("; ")}`
        : r.log.slice(-500);
      return a;
    }
    const { report } = c;
    const avoid = this.memory
      .getFailedApproaches(task.signature)
      .map((l) => `${l.approach.name}: ${l.reason ?? l.outcome}`);
    const r = await this.opts.llm!.improve({
      sandbox: c.sandbox,
      task,
      baseline,
      ctx,
      avoid,
      similar: similarLessons(this.memory, task),
      goal: this.opts.goal,
      cycle: c.cycle,
      signal: ctx.signal ?? this.abort.signal,
      cache: c.cache,
      ...(this.verification === "batch" ? { finalScope: "targeted" as const } : {}),
    });
    a.spent = { summary: r.summary, tokens: r.tokens, costUsd: r.costUsd };
    report.trajectories = r.trajectories.map((t) =>
      path.relative(this.env.layout.reports, t).split(path.sep).join("/"),
    );
    report.llm = { tokens: r.tokens, costUsd: r.costUsd ?? 0 };
    this.events.append({
      type: "model_call",
      campaign: this.campaignId,
      cycle: a.c.cycle,
      model: a.approach.name,
      tokens: r.tokens,
      cost_usd: r.costUsd ?? 0,
    });
    a.llmFiles = r.filesChanged;
    a.llmEnd = { error: r.error, rejected: r.rejected };
    if (r.oracleRestored?.length) report.oracleRestored = r.oracleRestored;
    return a;
  }

  /**
   * The candidate as a commit in the sandbox, taken before the gates run. The tree is walked before any git command
   * runs on it (ignoredByGit included): UnsafeGitTreeError. A path git ignores cannot be committed: that candidate is
   * rejected (the outcome is returned), and only it.
   */
  private async freeze(a: Attempt): Promise<FrozenCandidate | AttemptOutcome> {
    const { sandbox, cycle, report } = a.c;
    await assertSafeGitTree(sandbox.path, sandbox.baseCommit);
    const ignored = rejectIgnoredPaths(await ignoredByGit(sandbox.path, a.llmFiles ?? []));
    if (ignored) {
      await this.resetSandbox(sandbox);
      const lesson = this.lesson(cycle, a.task, a.approach, "rejected", {
        reason: ignored.reason,
        gate: ignored.gate,
        files: a.llmFiles,
        ...a.spent,
      });
      report.decision = { action: "rejected", reason: ignored.reason };
      this.step(cycle, "decided", { action: "rejected", reason: ignored.reason, lesson });
      this.remember(cycle, lesson);
      this.step(cycle, "lesson_recorded");
      return { promoted: false, rejected: true, learned: true };
    }
    const changed = a.llmFiles ?? (await this.env.sandboxChanges(sandbox));
    return changed.length
      ? await this.env.freezeCandidate(sandbox, a.llmFiles)
      : { commit: sandbox.baseCommit, files: [], diff: "" };
  }

  /**
   * A test-adding task's candidate through the assured filters (assure-tests.ts) before the gates: its new tests
   * pass, pass 5 re-runs, raise the target's coverage and fail on a mutant of it. A candidate that changed anything
   * but new test files is left to the policy gate (rule tests-only). Returns the rejection, or undefined.
   */
  private async assureTests(a: Attempt, frozen: FrozenCandidate): Promise<AttemptOutcome | undefined> {
    const { sandbox, cycle, report } = a.c;
    const readers = await loadFileReaders(sandbox.path, sandbox.baseCommit, frozen.diff);
    if (checkPolicy(frozen.diff, this.env.config, readers, { addTestsOnly: true }).length > 0)
      return undefined;
    const target = a.task.file ?? a.task.target;
    this.log(`test filters on ${frozen.files.join(", ")} (target ${target})`);
    const out = await assureNewTests({
      workspace: a.ctx.workspace,
      env: a.ctx.env,
      target,
      tests: frozen.files,
      coverage: coverageProbe(a.ctx, target, await this.storedBaseline(sandbox, target)),
      signal: a.c.signal,
    });
    // What the runs wrote goes; the candidate (and the target, which the mutants overwrote) is as frozen.
    await this.env.cleanSandbox(sandbox, frozen.commit);
    report.testsAdded = out.facts;
    a.assured = out.facts;
    if (!out.rejected) return undefined;
    const { reason, gate } = out.rejected;
    const lesson = this.lesson(cycle, a.task, a.approach, "rejected", {
      reason,
      gate,
      files: frozen.files,
      diffHash: createHash("sha256").update(frozen.diff).digest("hex").slice(0, 16),
      ...a.spent,
    });
    report.diff = frozen.diff;
    report.decision = { action: "rejected", reason };
    this.step(cycle, "decided", { action: "rejected", reason, lesson, tests: out.facts });
    this.remember(cycle, lesson);
    this.step(cycle, "lesson_recorded");
    await this.resetSandbox(sandbox);
    return { promoted: false, rejected: true, learned: true };
  }

  /** Master's coverage of `target` as this cycle's coverage tier measured it (the store), when it is for this tree. */
  private async storedBaseline(sandbox: SandboxInfo, target: string) {
    const store = readCoverageStore(path.join(this.env.layout.state, COVERAGE_STORE));
    return storedBaseline(store, await this.treeOf(sandbox), target);
  }

  /**
   * No git command ran on a tree holding what git must not see: the candidate is rejected (policy rule
   * unsafe-git-path), the campaign goes on. Any other error is rethrown.
   */
  private async rejectUnsafe(a: Attempt, e: unknown): Promise<AttemptOutcome> {
    if (!(e instanceof UnsafeGitTreeError)) throw e;
    const { cycle, report } = a.c;
    const reason = `policy: ${unsafeGitViolations(e.paths)
      .map((v) => violationToCheck(v).message)
      .join("; ")}`;
    const lesson = this.lesson(cycle, a.task, a.approach, "rejected", {
      reason,
      gate: "policy",
      files: e.paths.map((p) => p.path),
      ...a.spent,
    });
    this.step(cycle, "decided", { action: "rejected", reason, lesson });
    this.remember(cycle, lesson);
    this.step(cycle, "lesson_recorded");
    report.decision = { action: "rejected", reason };
    await this.resetSandbox(a.c.sandbox);
    return { promoted: false, rejected: true, learned: true };
  }

  /** The approach changed nothing. An LLM's reverted attempts are not "no change": say what failed, for the next prompt and the report. */
  private async noChange(a: Attempt): Promise<AttemptOutcome> {
    const { cycle, report } = a.c;
    await this.resetSandbox(a.c.sandbox);
    const { task, approach, spent, llmEnd } = a;
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
    report.decision = { action: rejected ? "rejected" : "no_change", reason: lesson.reason! };
    return { promoted: false, rejected, learned: true };
  }

  /**
   * The gates on the candidate, with Master's oracle restored over it; the policy judges the candidate's diff, taken
   * before. The candidate's code ran in the gates: the tree is walked again before git touches it (promotion).
   */
  private async gateCandidate(a: Attempt, frozen: FrozenCandidate): Promise<GateResult> {
    const { sandbox, report } = a.c;
    const readers = await loadFileReaders(sandbox.path, sandbox.baseCommit, frozen.diff);
    const restored = new Set(report.oracleRestored);
    // A test-adding task's new test files are its change: they stay; every other oracle path is Master's.
    const addTestsOnly = a.task.kind === "coverage";
    // A new-feature task brings its own new tests: the policy allows them and the oracle's restore keeps them.
    const feature = a.task.kind === "feature";
    const restore = async () => {
      for (const p of await restoreOracle(
        sandbox.path,
        sandbox.baseCommit,
        oracleGlobs(this.env.config.profile),
        addTestsOnly || feature ? isCollectedTestFile : undefined,
      ))
        restored.add(p);
      report.oracleRestored = [...restored].sort();
    };
    await restore();
    const candidate = await checkGates(a.ctx, {
      beforeRun: restore,
      policy: (d, c) => checkPolicy(d, c, readers, { addTestsOnly, newTestsAllowed: feature }),
      diff: frozen.diff,
      failFast: true,
      baseline: a.baseline,
      target: a.task.kind === "failure" ? a.task : undefined,
      changedFiles: frozen.files,
      cache: a.c.cache,
      // Batch verification: the targeted step here, the full suite once per batch in the promotion queue.
      ...(this.verification === "batch" ? { targetedOnly: true } : {}),
    });
    await assertSafeGitTree(sandbox.path, sandbox.baseCommit);
    return candidate;
  }

  /**
   * Promote or reject (judgeCandidate), written into the report and the journal; the lesson to record, and the
   * facts the promotion queue judges the candidate with again.
   */
  private async judge(
    a: Attempt,
    frozen: FrozenCandidate,
    candidate: GateResult,
  ): Promise<{ lesson: Lesson; facts: QueuedCandidate["facts"] }> {
    const { sandbox, cycle, report } = a.c;
    const { commit, files, diff } = frozen;
    const discovered = await discoveredIssueFacts(sandbox.path, sandbox.baseCommit, commit, a.task, files);
    const harnessFixed = await this.harnessFixed(a);
    const { verdict, decision } = judgeCandidate({
      ...(harnessFixed === undefined ? {} : { harnessFixed }),
      baseline: a.baseline,
      candidate,
      task: a.task,
      policy: this.env.config.gates,
      gates: a.ctx.profile.gates,
      changed: files.length > 0,
      discoveredIssue: discovered,
      newFeature: a.task.kind === "feature" ? { testsAdded: files.some(isTestFileName) } : null,
      targetedOnly: this.verification === "batch",
    });
    const unrelated = unrelatedFiles(a.task, files);
    if (unrelated.length) report.unrelatedFiles = unrelated;
    report.gatesAfter = summariseGates(candidate);
    this.gateRun(cycle, path.basename(a.ctx.outputDir), report.gatesAfter);
    report.newFailures = verdict.newFailures.map((c) => ({
      gate: c.gate,
      id: c.id,
      ...(c.message ? { message: c.message } : {}),
    }));
    report.diff = diff;
    if (decision.action === "promoted" && a.assured)
      decision.reason = `${describeAssured(a.assured)}; ${decision.reason}`;
    report.decision = { action: decision.action, reason: decision.reason };
    const outcome = decision.action;
    const lesson = this.lesson(cycle, a.task, a.approach, outcome, {
      reason: decision.reason,
      gate: decision.gate,
      files,
      diffHash: createHash("sha256").update(diff).digest("hex").slice(0, 16),
      ...a.spent,
    });
    this.step(cycle, "decided", {
      action: decision.action,
      reason: decision.reason,
      lesson,
      oracleRestored: report.oracleRestored,
      ...(a.assured ? { tests: a.assured } : {}),
      ...(decision.action === "promoted" ? { queued: true } : {}),
    });
    const facts = { discoveredIssue: discovered, ...(harnessFixed === undefined ? {} : { harnessFixed }) };
    return { lesson, facts };
  }

  /**
   * For a harness task: its harness run on the candidate (validate, run, expected output), and whether the finding's
   * check is gone. Undefined for other tasks.
   */
  private async harnessFixed(a: Attempt): Promise<boolean | undefined> {
    if (a.task.kind !== "harness") return undefined;
    const harness = harnessOfTarget(a.task.target);
    const report = readHarnessReport(this.env.layout.golden);
    if (!harness || !report) return false;
    const run = await runHarnesses(a.ctx, this.env.layout.golden, report.odibiVersion, { only: [harness] });
    return run.harnesses.length > 0 && !run.findings.some((f) => f.checkId === a.task.target);
  }

  /**
   * The candidate waits in the promotion queue (the worker's slot goes to the next task meanwhile); the queue
   * promotes it (promoteQueued) or rejects it after gating it on the current Master (verifyQueued).
   */
  private async enqueue(q: QueuedCandidate): Promise<AttemptOutcome> {
    const { c } = q.a;
    // One worker verifying per candidate never waits: its candidate is promoted at once.
    if (this.workers > 1 || this.verification === "batch")
      this.events.append({ type: "phase", campaign: this.campaignId, cycle: c.cycle, name: "queued" });
    c.release();
    const settled = await this.queue.submit(q);
    if (settled.promoted) return { promoted: true, rejected: false, learned: true };
    return this.rejectQueued(q, settled);
  }

  /** The queue rejected a candidate the cycle's gates passed: the lesson says why. */
  private async rejectQueued(
    q: QueuedCandidate,
    settled: Extract<Settled, { promoted: false }>,
  ): Promise<AttemptOutcome> {
    const { c } = q.a;
    const { gate: _gate, ...rest } = q.lesson;
    const lesson: Lesson = {
      ...rest,
      outcome: "rejected",
      reason: settled.reason,
      ...(settled.gate ? { gate: settled.gate } : {}),
      at: new Date().toISOString(),
    };
    c.report.decision = { action: "rejected", reason: settled.reason };
    this.step(c.cycle, "decided", { action: "rejected", reason: settled.reason, lesson });
    this.remember(c.cycle, lesson);
    this.step(c.cycle, "lesson_recorded");
    await this.resetSandbox(c.sandbox);
    return { promoted: false, rejected: true, learned: true };
  }

  /** A candidate the queue passed: re-applied on Master's HEAD when Master moved since, promoted as its own commit. */
  private async promoteQueued(q: QueuedCandidate): Promise<void> {
    const { sandbox, cycle } = q.a.c;
    const head = await this.env.masterHead();
    if (sandbox.baseCommit !== head) {
      const r = await this.env.rebaseSandbox(sandbox, [{ from: sandbox, commit: q.frozen.commit }], {
        onto: head,
      });
      if ("conflict" in r)
        throw new EnvironmentStateError(`the candidate of cycle ${cycle} no longer applies on Master`);
      q.frozen = { ...q.frozen, commit: r.commit };
    }
    await this.promote(q.a, q.candidate, q.lesson);
    this.promotedSignatures.add(q.a.task.signature);
    const now = await this.env.masterHead();
    if (this.verified?.last === q) this.masterGates = { head: now, result: this.verified.result };
    else if (q.gatedOn === head) this.masterGates = { head: now, result: q.candidate };
  }

  /** The queue's sandbox (made at its first use; the campaign's end destroys it). */
  private async queueBox(): Promise<SandboxInfo> {
    this.queueSandbox ??= await this.env.createSandbox("queue", { reuse: true });
    return this.queueSandbox;
  }

  /**
   * The candidates applied in order on Master's HEAD in the queue's sandbox, the full gates run once on the result,
   * and each candidate judged against Master's result (`masterBaseline`).
   */
  private async verifyQueued(items: QueuedCandidate[]): Promise<Judgement[]> {
    const head = await this.env.masterHead();
    const baseline = await this.masterBaseline(head);
    const box = await this.queueBox();
    const picks = items.map((q) => ({ from: q.a.c.sandbox, commit: q.frozen.commit }));
    const r = await this.env.rebaseSandbox(box, picks, { onto: head });
    const cycles = items.map((q) => q.a.c.cycle).join(", ");
    if ("conflict" in r) {
      this.log(`queue: cycle(s) ${cycles} do not apply together on Master ${head.slice(0, 10)}`);
      return items.map((q) => ({
        ok: false,
        reason:
          q.frozen.commit === r.conflict
            ? r.empty
              ? `its change is already on Master (${head.slice(0, 10)})`
              : `no longer applies on Master (${head.slice(0, 10)}): a promotion since changed the same lines`
            : "in a batch that did not apply on Master",
      }));
    }
    const result = await this.gateQueued(box, head, items, baseline);
    this.verified = { last: items.at(-1)!, result };
    const judged = items.map((q): Judgement => {
      const { decision } = judgeCandidate({
        baseline,
        candidate: result,
        task: q.a.task,
        policy: this.env.config.gates,
        gates: profileOf(this.env.config.profile).gates,
        changed: true,
        ...q.facts,
      });
      if (decision.action !== "promoted")
        return {
          ok: false,
          reason: `on Master ${head.slice(0, 10)}: ${decision.reason}`,
          gate: decision.gate,
        };
      q.candidate = result;
      q.lesson = { ...q.lesson, reason: decision.reason };
      q.a.c.report.gatesAfter = summariseGates(result);
      return { ok: true };
    });
    const passed = judged.every((j) => j.ok);
    this.log(`queue: cycle(s) ${cycles} on Master ${head.slice(0, 10)}: ${passed ? "pass" : "fail"}`);
    return judged;
  }

  /** The full gates on the queue's sandbox (Master's oracle put back before every run), stopping at a new failure. */
  private async gateQueued(
    box: SandboxInfo,
    head: string,
    items: QueuedCandidate[],
    baseline: GateResult,
  ): Promise<GateResult> {
    const out = path.join(this.env.layout.stories, `queue_${items.map((q) => q.a.c.cycle).join("-")}`);
    mkdirSync(out, { recursive: true });
    const ctx = this.gateContext(box.path, out, this.abort.signal);
    const restore = () => restoreOracle(box.path, head, oracleGlobs(this.env.config.profile));
    await restore();
    const cache = this.env.config.gates.cache
      ? new GateCache(this.env.layout.gateCache, this.env.guard)
      : undefined;
    return checkGates(ctx, { beforeRun: restore, failFast: true, baseline, cache });
  }

  /** Master's full gate result at `head`: the last one seen, else the gates on the queue's sandbox at `head`. */
  private async masterBaseline(head: string): Promise<GateResult> {
    if (this.masterGates?.head === head) return this.masterGates.result;
    const box = await this.queueBox();
    await this.env.rebaseSandbox(box, [], { onto: head });
    const out = path.join(this.env.layout.stories, "queue_master");
    mkdirSync(out, { recursive: true });
    const cache = this.env.config.gates.cache
      ? new GateCache(this.env.layout.gateCache, this.env.guard)
      : undefined;
    const result = await checkGates(this.gateContext(box.path, out, this.abort.signal), {
      cache,
      treeHash: await this.treeOf(box),
    });
    this.masterGates = { head, result };
    return result;
  }

  /** Snapshot Master, promote the candidate, record the lesson and the promotion. */
  private async promote(a: Attempt, candidate: GateResult, lesson: Lesson): Promise<AttemptOutcome> {
    const { sandbox, cycle, report } = a.c;
    const env = this.env;
    const snap = await env.snapshotMaster(`before_cycle_${String(cycle).padStart(3, "0")}`);
    this.step(cycle, "snapshot_done", { snapshot: snap.name });
    this.step(cycle, "promote_begin", { previous: sandbox.baseCommit });
    const gatesPassed = [...new Set(candidate.runs.map((r) => r.gate))];
    const summary = a.spent.summary;
    const p = await env.promoteToMaster(sandbox, {
      cycleId: `cycle_${String(cycle).padStart(3, "0")}`,
      task: a.task.title,
      gatesPassed,
      details: `Approach: ${approachId(a.approach)}${summary ? `\n${summary.slice(0, 1000)}` : ""}`,
    });
    this.step(cycle, "promote_done", { commit: p.commit, previous: p.previous });
    if (a.task.kind === "harness") resolveFinding(env.layout.golden, a.task.target);
    if (a.task.kind === "usage" || a.task.kind === "feature")
      resolveUsageItem(env.layout.reports, a.task.signature);
    this.remember(cycle, lesson);
    this.step(cycle, "lesson_recorded");
    report.snapshot = snap.name;
    report.commit = p.commit;
    return { promoted: true, rejected: false, learned: true };
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
      ...(ctx.profile.usesVenv ? { venv: this.venv } : {}),
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
    await this.env.repairMaster();
    const orphans = await this.env.cleanupOrphans();
    if (orphans.length) this.log(`recovery: removed orphan sandbox(es) ${orphans.join(", ")}`);
    const entries = reduceJournal(this.events.all);
    const masterHead = await this.env.masterHead();
    for (const plan of planRecoveries({ entries, masterHead })) await this.closeInterrupted(plan, masterHead);
  }

  /** One interrupted cycle closed: the lesson the journal holds recorded, a `recovered` event. */
  private async closeInterrupted(
    plan: ReturnType<typeof planRecoveries>[number],
    masterHead: string,
  ): Promise<void> {
    if (plan.lesson) {
      const mem = new CampaignMemory(this.env.layout.memory, { guard: this.env.guard });
      try {
        mem.record(plan.lesson);
      } finally {
        mem.close();
      }
      this.events.append({ type: "lesson", campaign: plan.campaign, cycle: plan.cycle, lesson: plan.lesson });
    }
    const { cycle, interruptedAt, promoted } = plan;
    this.events.append({
      type: "recovered",
      campaign: plan.campaign,
      cycle,
      data: {
        interruptedAt,
        promoted,
        lessonRecovered: plan.lesson !== undefined,
        ...(promoted ? { commit: plan.commit ?? masterHead } : {}),
      },
    });
    this.log(
      `recovery: cycle ${cycle} was interrupted at ${interruptedAt}; Master is ${promoted ? "after" : "before"} its promotion`,
    );
  }
}
