import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Job, UnrecoverableError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import YAML from "yaml";
import { Budget } from "../brain/budget.js";
import { createLlmImprover } from "../brain/llm-improver.js";
import { parseConfig } from "../config/load.js";
import { UsageError } from "../core/errors.js";
import type { GateResult, Task } from "../core/types.js";
import { ImprovementEnvironment } from "../environment/environment.js";
import { git, gitRaw } from "../environment/git.js";
import { installedDependencies } from "../environment/staged-install.js";
import {
  describeIsolation,
  type IsolationDecision,
  type IsolationSetting,
  resolveIsolation,
} from "../exec/jail.js";
import { GateCache } from "../gates/cache.js";
import { gateIsolation, makeGateContext } from "../gates/context.js";
import { createLlmClient } from "../llm/client.js";
import { type LlmFlags, llmOptionsFromFlags } from "../llm/options.js";
import { profileOf } from "../profiles/index.js";
import {
  type AttemptJob,
  type AttemptResult,
  bundleKey,
  connectRedis,
  environmentManifest,
  MANIFEST_KEY,
  manifestDifferences,
  manifestHash,
  PROTOCOL,
  type PublishedManifest,
  queueName,
  shownUrl,
} from "./protocol.js";

/**
 * `odibi-improve worker --queue redis://…`: takes attempt jobs from the coordinator's queue (BullMQ on Redis) and
 * runs each on a mirror of the coordinator's Master: the git bundle of the job's commit (from Redis), a sandbox of
 * an environment of its own under `root`, the gates' venv of this machine, the model of this machine's flags and
 * key. It returns the attempt's patch, summary, usage and trajectories; it never promotes anything.
 */
export interface WorkerOptions {
  url: string;
  /** Where the mirrors live (one environment per coordinator). */
  root: string;
  venv: string;
  llm: LlmFlags;
  /** This machine's jail setting: the job's config.yaml never decides it (whoever writes to Redis writes jobs). */
  isolation: IsolationSetting;
  concurrency: number;
  /** BullMQ's lock: a job whose worker stopped renewing it for this long goes to another worker. */
  lockMs: number;
  /** How long to wait for a coordinator to publish its manifest (default: for ever). */
  waitMs?: number;
  signal: AbortSignal;
  log: (line: string) => void;
}

export async function runWorker(o: WorkerOptions): Promise<{ jobs: number }> {
  const name = `${os.hostname()}:${process.pid}`;
  const mine = await environmentManifest(o.venv);
  const hash = manifestHash(mine);
  const redis = await connectRedis(o.url);
  try {
    const published = await waitForManifest(redis, o);
    if (!published) return { jobs: 0 };
    const diff = manifestDifferences(mine, published.environment);
    if (published.hash !== hash || diff.length)
      throw new UsageError(
        `refused: this worker's environment differs from the coordinator's (${published.coordinator}): ${diff.join("; ") || "hash differs"}`,
        "Install the same odibi-improve and run `odibi-improve setup` (same Python and gate tools) on this machine.",
      );
    o.log(
      `worker ${name}: serving ${published.coordinator} (environment ${hash}, concurrency ${o.concurrency})`,
    );
    const mirrors = new Mirrors(o, redis, name);
    let jobs = 0;
    const worker = new Worker<AttemptJob, AttemptResult>(
      queueName(hash),
      async (job) => {
        jobs++;
        return mirrors.attempt(job);
      },
      {
        connection: { url: o.url, maxRetriesPerRequest: null },
        concurrency: o.concurrency,
        lockDuration: o.lockMs,
        stalledInterval: o.lockMs,
        maxStalledCount: 2,
      },
    );
    worker.on("error", (e) => o.log(`worker: ${e.message}`));
    worker.on("failed", (job, e) => o.log(`job ${job?.id}: failed: ${e.message}`));
    worker.on("completed", (job) => o.log(`job ${job.id}: done`));
    await new Promise<void>((resolve) => {
      if (o.signal.aborted) resolve();
      o.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    o.log("worker: stopping after the jobs it holds");
    await worker.close();
    return { jobs };
  } finally {
    redis.disconnect();
  }
}

async function waitForManifest(redis: Redis, o: WorkerOptions): Promise<PublishedManifest | undefined> {
  const until = o.waitMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + o.waitMs;
  let said = false;
  for (;;) {
    const text = await redis.get(MANIFEST_KEY);
    if (text) return JSON.parse(text) as PublishedManifest;
    if (!said) o.log(`worker: waiting for a coordinator (\`odibi-improve run --queue ${shownUrl(o.url)}\`)`);
    said = true;
    if (o.signal.aborted || Date.now() > until) return undefined;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** One environment per coordinator under `<root>/projects/<project>`: Master follows the jobs' commits. */
class Mirrors {
  private readonly ready = new Map<string, Promise<ImprovementEnvironment>>();
  /** Moving a mirror's Master and taking a sandbox of it happen one job at a time. */
  private lock: Promise<unknown> = Promise.resolve();
  private isolation?: Promise<IsolationDecision>;

  constructor(
    private readonly o: WorkerOptions,
    private readonly redis: Redis,
    private readonly name: string,
  ) {}

  async attempt(job: Job<AttemptJob, AttemptResult>): Promise<AttemptResult> {
    const d = job.data;
    if (d.protocol !== PROTOCOL)
      throw new UnrecoverableError(`protocol ${d.protocol} is not this worker's (${PROTOCOL})`);
    if (!/^[0-9a-f]{40,64}$/.test(d.commit) || !/^[A-Za-z0-9_-]{1,64}$/.test(d.project))
      throw new UnrecoverableError("malformed job");
    this.o.log(`job ${job.id}: cycle ${d.cycle} of ${d.campaign} on ${d.commit.slice(0, 10)}`);
    const bundle = await this.fetchBundle(d.commit);
    try {
      const { env, sandbox } = await this.serial(async () => {
        const env = await this.environment(d, bundle);
        await git(env.layout.master, ["fetch", "-q", "--no-tags", bundle, "HEAD"]);
        await git(env.layout.master, ["reset", "-q", "--hard", d.commit]);
        const sandbox = await env.createSandbox(`job-${randomBytes(4).toString("hex")}`);
        return { env, sandbox };
      });
      try {
        return await this.run(job, env, sandbox);
      } finally {
        await env.destroySandbox(sandbox);
      }
    } finally {
      rmSync(bundle, { force: true });
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.lock.then(fn, fn);
    this.lock = p.catch(() => {});
    return p;
  }

  private async fetchBundle(commit: string): Promise<string> {
    const data = await this.redis.getBuffer(bundleKey(commit));
    if (!data) throw new Error(`the coordinator's bundle of ${commit} is not in Redis`);
    const dir = path.join(this.o.root, "tmp");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${commit}-${randomBytes(4).toString("hex")}.bundle`);
    writeFileSync(file, data);
    return file;
  }

  /**
   * The mirror of the job's project: made from the bundle the first time; its config.yaml is the job's, except
   * where Sacred is (the mirror's origin) and how code is jailed (this worker's `--isolation`).
   */
  private environment(d: AttemptJob, bundle: string): Promise<ImprovementEnvironment> {
    const dir = path.join(this.o.root, "projects", d.project);
    const origin = path.join(dir, "origin");
    const envRoot = path.join(dir, "env");
    const doc = YAML.parseDocument(d.config);
    doc.setIn(["source", "sacred_repo"], origin);
    doc.setIn(["isolation"], this.o.isolation);
    const text = doc.toString();
    const config = parseConfig(text, "the coordinator's config.yaml");
    let ready = this.ready.get(d.project);
    if (!ready) {
      ready = (async () => {
        const fresh = !existsSync(path.join(envRoot, "config.yaml"));
        if (fresh) {
          rmSync(dir, { recursive: true, force: true });
          mkdirSync(dir, { recursive: true });
          await git(dir, ["clone", "-q", "--", bundle, origin]);
          await ImprovementEnvironment.init({
            source: origin,
            root: envRoot,
            profile: profileOf(config.profile),
          });
        }
        writeFileSync(path.join(envRoot, "config.yaml"), text);
        const env = ImprovementEnvironment.open(envRoot);
        const install = profileOf(env.config.profile).installDependencies;
        if (install) {
          const r = await install(env, { venv: this.o.venv, log: this.o.log, signal: this.o.signal });
          if (r.status === "failed") this.o.log(`warning: ${r.message}`);
        }
        // odibi: the golden projects, as `init` builds them on the coordinator (the model's gate runs use them).
        if (fresh) {
          const prepared = await profileOf(env.config.profile).prepare?.(env, { log: this.o.log });
          if (prepared) this.o.log(prepared);
        }
        return env;
      })();
      this.ready.set(d.project, ready);
      ready.catch(() => this.ready.delete(d.project));
    }
    return ready.then((env) => {
      writeFileSync(env.layout.config, text);
      return ImprovementEnvironment.open(env.root);
    });
  }

  private async run(
    job: Job<AttemptJob, AttemptResult>,
    env: ImprovementEnvironment,
    sandbox: Awaited<ReturnType<ImprovementEnvironment["createSandbox"]>>,
  ): Promise<AttemptResult> {
    const d = job.data;
    this.isolation ??= resolveIsolation(env.config.isolation, { llm: true });
    const isolation = await this.isolation;
    const out = path.join(env.layout.stories, sandbox.id);
    mkdirSync(out, { recursive: true });
    const log = (l: string) => this.o.log(`job ${job.id}: ${l}`);
    const ctx = makeGateContext({
      workdir: sandbox.path,
      config: env.config,
      profile: profileOf(env.config.profile),
      goldenDir: env.layout.golden,
      outputDir: out,
      venv: this.o.venv,
      isolation: gateIsolation(env, isolation.mode),
      signal: this.o.signal,
      dependencies: installedDependencies(env.layout),
      pythonPackages: env.layout.pythonPackages,
      log,
    });
    const { settings, limits } = llmOptionsFromFlags(this.o.llm, env.config);
    const budget = new Budget(d.budget);
    const llm = createLlmImprover({
      client: createLlmClient(settings),
      budget,
      limits,
      trajectoriesDir: env.layout.trajectories,
      log,
    });
    log(describeIsolation(isolation));
    const r = await llm.improve({
      sandbox,
      task: d.task as Task,
      baseline: d.baseline as GateResult,
      ctx,
      avoid: d.avoid,
      ...(d.similar ? { similar: d.similar } : {}),
      ...(d.goal ? { goal: d.goal } : {}),
      cycle: d.cycle,
      signal: this.o.signal,
      cache: env.config.gates.cache ? new GateCache(env.layout.gateCache, env.guard) : undefined,
      ...(d.finalScope ? { finalScope: d.finalScope } : {}),
    });
    const files = await existingOrBase(sandbox.path, d.commit, r.filesChanged ?? []);
    let patch = "";
    if (files.length) {
      await git(sandbox.path, ["--literal-pathspecs", "add", "-A", "-f", "--", ...files]);
      patch = await git(sandbox.path, [
        "diff",
        "--cached",
        "--binary",
        "--no-renames",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--full-index",
        d.commit,
      ]);
    }
    const snap = budget.snapshot();
    return {
      worker: this.name,
      summary: r.summary,
      inputTokens: snap.inputTokens,
      outputTokens: snap.outputTokens,
      ...(r.costUsd !== undefined ? { costUsd: r.costUsd } : {}),
      ...(r.error ? { error: r.error } : {}),
      ...(r.rejected ? { rejected: r.rejected } : {}),
      ...(r.oracleRestored?.length ? { oracleRestored: r.oracleRestored } : {}),
      ...(r.filesChanged ? { filesChanged: r.filesChanged } : {}),
      patch,
      trajectories: r.trajectories
        .filter((t) => existsSync(t))
        .map((t) => ({ name: path.basename(t), content: readFileSync(t, "utf8") })),
    };
  }
}

/** The files that exist in the sandbox or in `base` (a deletion): what `git add` can take. */
async function existingOrBase(dir: string, base: string, files: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) {
    if (lstatSync(path.join(dir, f), { throwIfNoEntry: false })) out.push(f);
    else if ((await gitRaw(dir, ["cat-file", "-e", `${base}:${f}`])).exitCode === 0) out.push(f);
  }
  return out;
}
