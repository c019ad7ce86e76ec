import { createHash } from "node:crypto";
import os from "node:os";
import { Redis } from "ioredis";
import { z } from "zod";
import { UsageError } from "../core/errors.js";
import { runProcess } from "../exec/run-process.js";
import { PYTHON_TOOLS, toolVersion, venvBin } from "../pyenv/python-env.js";

/**
 * What crosses the wire between a coordinator (`run --queue`) and its workers (`worker --queue`), over BullMQ on
 * Redis. A worker's answer is untrusted input (as a model's writes are): it is parsed with `attemptResult` and its
 * patch goes through the same freeze, policy and gates as a local attempt's files; only the coordinator promotes.
 */

/** Bumped when a job's or a result's shape changes: workers of another protocol take no job. */
export const PROTOCOL = 1;

/** The key holding the coordinator's manifest (what a worker must match to take its jobs). */
export const MANIFEST_KEY = "odibi-improve:manifest";

/** The key holding the git bundle of Master at `commit` (kept a day: a worker fetches it once per commit). */
export const bundleKey = (commit: string) => `odibi-improve:bundle:${commit}`;
export const BUNDLE_TTL_S = 24 * 3600;

/** Jobs go to a queue named by the environment's hash: a worker with another tool or environment never sees them. */
export const queueName = (hash: string) => `odibi-improve-attempts-${hash}`;

/** What must be equal on the coordinator and a worker: this tool, the protocol, the gates' Python and its tools. */
export interface EnvironmentManifest {
  tool: string;
  protocol: number;
  platform: string;
  python: string;
  packages: Record<string, string>;
}

export interface PublishedManifest {
  environment: EnvironmentManifest;
  hash: string;
  /** The coordinator's campaign and where it runs (for a worker's log). */
  coordinator: string;
  publishedAt: string;
}

/** The gates' venv as a manifest: its Python and the versions of the gate tools and odibi installed in it. */
export async function environmentManifest(venv: string): Promise<EnvironmentManifest> {
  const names = [...PYTHON_TOOLS.map((t) => t.replace(/[<>=].*$/, "")), "odibi"];
  const script = [
    "import importlib.metadata as m, json, sys",
    "out = {}",
    `for n in ${JSON.stringify(names)}:`,
    "    try: out[n] = m.version(n)",
    "    except m.PackageNotFoundError: pass",
    'print(json.dumps({"python": sys.version.split()[0], "packages": out}))',
  ].join("\n");
  const r = await runProcess(venvBin(venv, "python"), ["-c", script], {
    cwd: os.tmpdir(),
    timeoutMs: 60_000,
  });
  let python = "none";
  let packages: Record<string, string> = {};
  if (r.exitCode === 0) {
    const parsed = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as {
      python: string;
      packages: Record<string, string>;
    };
    python = parsed.python;
    packages = parsed.packages;
  }
  return { tool: toolVersion(), protocol: PROTOCOL, platform: process.platform, python, packages };
}

export function manifestHash(m: EnvironmentManifest): string {
  const sorted = Object.fromEntries(Object.entries(m.packages).sort(([a], [b]) => a.localeCompare(b)));
  return createHash("sha256")
    .update(JSON.stringify([m.tool, m.protocol, m.platform, m.python, sorted]))
    .digest("hex")
    .slice(0, 16);
}

/** Each way `mine` differs from `theirs`, one phrase each ("python 3.11.2 here, 3.12.1 on the coordinator"). */
export function manifestDifferences(mine: EnvironmentManifest, theirs: EnvironmentManifest): string[] {
  const out: string[] = [];
  const cmp = (what: string, a: string | number | undefined, b: string | number | undefined) => {
    if (a !== b) out.push(`${what} ${a ?? "absent"} here, ${b ?? "absent"} on the coordinator`);
  };
  cmp("odibi-improve", mine.tool, theirs.tool);
  cmp("protocol", mine.protocol, theirs.protocol);
  cmp("platform", mine.platform, theirs.platform);
  cmp("python", mine.python, theirs.python);
  for (const p of [...new Set([...Object.keys(mine.packages), ...Object.keys(theirs.packages)])].sort())
    cmp(p, mine.packages[p], theirs.packages[p]);
  return out;
}

/** A job: one attempt of the model on one task, on Master at `commit`. */
export interface AttemptJob {
  protocol: number;
  /** The coordinator's environment (a worker keeps one mirror of it). */
  project: string;
  campaign: string;
  cycle: number;
  commit: string;
  /** config.yaml of the coordinator, as YAML text (the worker's mirror runs the same gates). */
  config: string;
  task: unknown;
  baseline: unknown;
  avoid: string[];
  similar?: string[];
  goal?: string;
  finalScope?: "targeted" | "full";
  /** What is left of the campaign's LLM budget. */
  budget: { maxTokens?: number; maxCostUsd?: number };
}

const MAX_PATCH = 20 * 1024 * 1024;

/** A worker's answer, parsed before anything of it is used. */
export const attemptResult = z.object({
  worker: z.string().max(200),
  summary: z.string().max(100_000),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  costUsd: z.number().nonnegative().optional(),
  error: z.string().max(100_000).optional(),
  rejected: z.object({ gate: z.string().max(200).optional(), reason: z.string().max(100_000) }).optional(),
  oracleRestored: z.array(z.string().max(4096)).max(10_000).optional(),
  filesChanged: z.array(z.string().min(1).max(4096)).max(10_000).optional(),
  /** `git diff --binary` of the attempt's files against `commit`. */
  patch: z.string().max(MAX_PATCH),
  trajectories: z
    .array(
      z.object({ name: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/), content: z.string().max(MAX_PATCH) }),
    )
    .max(100),
});
export type AttemptResult = z.infer<typeof attemptResult>;

/** `url` for a log line: a password in it is masked (logs and events are read by people and by the dashboard). */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//***@");
  }
}

/**
 * A connection to the queue's Redis, or a UsageError naming why not (a URL that is not redis:// or rediss://, a
 * server that does not answer). Once connected it reconnects by itself: a lost server shows as jobs that wait.
 */
export async function connectRedis(url: string): Promise<Redis> {
  if (!/^rediss?:\/\/[^\s]+$/.test(url))
    throw new UsageError(
      `--queue takes a Redis URL (redis://host:port or rediss://…), not ${JSON.stringify(url)}`,
    );
  let last: Error | undefined;
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
  redis.on("error", (e: Error) => {
    last = e;
  });
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    const why = (last ?? (e as Error)).message;
    throw new UsageError(
      `cannot reach Redis at ${shownUrl(url)}: ${why}`,
      "Start redis-server there (Debian: apt-get install redis-server), or pass the right --queue redis://host:port.",
    );
  }
  return redis;
}
