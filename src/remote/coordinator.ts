import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import { Budget } from "../brain/budget.js";
import type { LlmImprover } from "../brain/llm-improver.js";
import type { ImprovementEnvironment } from "../environment/environment.js";
import { writeFileAtomic } from "../environment/fs-safe.js";
import { git, gitRaw } from "../environment/git.js";
import { type LlmFlags, llmOptionsFromFlags } from "../llm/options.js";
import {
  type AttemptJob,
  attemptResult,
  BUNDLE_TTL_S,
  bundleKey,
  connectRedis,
  environmentManifest,
  MANIFEST_KEY,
  manifestHash,
  PROTOCOL,
  type PublishedManifest,
  queueName,
  shownUrl,
} from "./protocol.js";

/**
 * The coordinator's side of `run --queue redis://…`: the campaign's model attempts become BullMQ jobs that workers
 * on other machines run (worker.ts); each answer's patch is applied to the cycle's own sandbox, where the campaign
 * judges it as it judges a local attempt (freeze, policy, the gates of Master's tools). Fixers stay local.
 */
export interface RemoteAttempts {
  improver: LlmImprover;
  close(): Promise<void>;
}

export async function connectRemoteAttempts(
  env: ImprovementEnvironment,
  o: { url: string; venv: string; llm: LlmFlags; log: (line: string) => void },
): Promise<RemoteAttempts> {
  const redis = await connectRedis(o.url);
  const environment = await environmentManifest(o.venv);
  const hash = manifestHash(environment);
  const project = createHash("sha256").update(`${os.hostname()}\0${env.root}`).digest("hex").slice(0, 16);
  const manifest: PublishedManifest = {
    environment,
    hash,
    coordinator: `${os.hostname()}:${env.root}`,
    publishedAt: new Date().toISOString(),
  };
  await redis.set(MANIFEST_KEY, JSON.stringify(manifest));
  const connection = { url: o.url, maxRetriesPerRequest: null };
  const queue = new Queue<AttemptJob>(queueName(hash), { connection });
  const events = new QueueEvents(queueName(hash), { connection });
  await events.waitUntilReady();
  o.log(`queue: attempts go to ${shownUrl(o.url)} (${queueName(hash)}); workers need environment ${hash}`);
  const { settings, limits } = llmOptionsFromFlags(o.llm, env.config);
  const budget = new Budget({ maxTokens: limits.maxTokens, maxCostUsd: limits.maxCostUsd });

  const improver: LlmImprover = {
    name: `${settings.provider}/${settings.model}`,
    budget,
    async improve(args) {
      const { sandbox } = args;
      const nothing = (error: string) => ({ summary: error, tokens: 0, trajectories: [], error });
      await publishBundle(redis, sandbox.path, sandbox.baseCommit);
      const left = (max: number | undefined, used: number) =>
        max === undefined ? undefined : Math.max(0, max - used);
      const data: AttemptJob = {
        protocol: PROTOCOL,
        project,
        campaign: path.basename(env.root),
        cycle: args.cycle,
        commit: sandbox.baseCommit,
        config: readFileSync(env.layout.config, "utf8"),
        task: args.task,
        baseline: args.baseline,
        avoid: args.avoid,
        ...(args.similar ? { similar: args.similar } : {}),
        ...(args.goal ? { goal: args.goal } : {}),
        ...(args.finalScope ? { finalScope: args.finalScope } : {}),
        budget: {
          maxTokens: left(limits.maxTokens, budget.totalTokens),
          maxCostUsd: left(limits.maxCostUsd, budget.costUsd),
        },
      };
      const job = await queue.add("attempt", data, {
        jobId: `c${args.cycle}-${randomBytes(6).toString("hex")}`,
        removeOnComplete: { age: 3600 },
        removeOnFail: { age: 24 * 3600 },
      });
      // CLIENT LIST may be refused by a managed Redis: then the count is unknown, not zero.
      const workers = await queue.getWorkersCount().catch(() => undefined);
      o.log(
        `queue: cycle ${args.cycle}: attempt published as job ${job.id}${
          workers === 0
            ? ` (no worker is connected: start \`odibi-improve worker --queue ${shownUrl(o.url)}\` on a machine)`
            : ""
        }`,
      );
      let raw: unknown;
      try {
        raw = await untilFinishedOrAborted(job.waitUntilFinished(events), args.signal);
      } catch (e) {
        if (args.signal.aborted) {
          await job.remove().catch(() => {}); // still waiting: nobody runs it; taken: its result is dropped
          return nothing("cut by the campaign's stop or time budget while a worker held the attempt");
        }
        return nothing(`the worker failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      const parsed = attemptResult.safeParse(raw);
      if (!parsed.success)
        return nothing(`the worker's answer is malformed: ${parsed.error.message.slice(0, 500)}`);
      const r = parsed.data;
      budget.charge({ inputTokens: r.inputTokens, outputTokens: r.outputTokens }, r.costUsd);
      const trajectories = r.trajectories.map((t) => {
        const file = path.join(
          env.layout.trajectories,
          `cycle_${String(args.cycle).padStart(3, "0")}`,
          t.name,
        );
        writeFileAtomic(env.guard, file, t.content);
        return file;
      });
      const spent = {
        tokens: r.inputTokens + r.outputTokens,
        ...(r.costUsd !== undefined ? { costUsd: r.costUsd } : {}),
      };
      let filesChanged = r.filesChanged;
      if (r.patch) {
        const applied = await applyPatch(sandbox.path, r.patch);
        if ("error" in applied)
          return {
            ...nothing(`the patch of worker ${r.worker} does not apply: ${applied.error}`),
            ...spent,
            trajectories,
          };
        // What the patch touches is the candidate too, listed or not: the candidate is what is gated.
        filesChanged = [...new Set([...(filesChanged ?? []), ...applied.files])];
      }
      o.log(`queue: cycle ${args.cycle}: job ${job.id} answered by ${r.worker}`);
      return {
        summary: `${r.summary} (worker ${r.worker})`,
        ...spent,
        trajectories,
        ...(filesChanged ? { filesChanged } : {}),
        ...(r.error ? { error: r.error } : {}),
        ...(r.rejected ? { rejected: r.rejected } : {}),
        ...(r.oracleRestored ? { oracleRestored: r.oracleRestored } : {}),
      };
    },
  };
  return {
    improver,
    async close() {
      await events.close();
      await queue.close();
      redis.disconnect();
    },
  };
}

function untilFinishedOrAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error("aborted"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error("aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Master at `commit` as a git bundle in Redis, once per commit (the sandbox's detached HEAD is that commit). */
async function publishBundle(redis: Redis, sandbox: string, commit: string): Promise<void> {
  if (await redis.exists(bundleKey(commit))) {
    await redis.expire(bundleKey(commit), BUNDLE_TTL_S);
    return;
  }
  const head = (await git(sandbox, ["rev-parse", "HEAD"])).trim();
  if (head !== commit) throw new Error(`the sandbox is at ${head}, not at its base ${commit}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "odibi-improve-bundle-"));
  try {
    const file = path.join(dir, "master.bundle");
    await git(sandbox, ["bundle", "create", "-q", file, "HEAD"]);
    await redis.set(bundleKey(commit), readFileSync(file), "EX", BUNDLE_TTL_S);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A worker's patch on the sandbox, through git (which refuses paths in .git, beyond a symbolic link or outside). */
async function applyPatch(sandbox: string, patch: string): Promise<{ files: string[] } | { error: string }> {
  const stat = await gitRaw(sandbox, ["apply", "--numstat", "-z", "-"], { input: patch });
  if (stat.exitCode !== 0) return { error: stat.stderr.trim().slice(0, 1000) };
  const files = stat.stdout
    .split("\0")
    .map((l) => l.split("\t")[2])
    .filter((f): f is string => Boolean(f));
  const r = await gitRaw(sandbox, ["apply", "--binary", "--whitespace=nowarn", "-"], { input: patch });
  if (r.exitCode !== 0) return { error: r.stderr.trim().slice(0, 1000) };
  return { files };
}
