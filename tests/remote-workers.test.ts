import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Redis } from "ioredis";
import { afterEach, describe, expect, inject, it } from "vitest";
import { UsageError } from "../src/core/errors.js";
import { git, statusLines } from "../src/environment/git.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { toolVersion } from "../src/pyenv/python-env.js";
import { connectRedis, MANIFEST_KEY, type PublishedManifest } from "../src/remote/protocol.js";
import { initPythonRoot, jsonl, LLM_KEY_ENV, runWithLlm } from "./campaign-cli.js";
import { type ScaleLog, scaleFiles, scaleScript } from "./campaign-scale.js";
import { tempDir } from "./helpers.js";
import { type ScriptedLlmServer, startLlmServer } from "./llm-server.js";
import { freePort, REDIS_SERVER, startRedis, workerCommand } from "./redis-server.js";

/**
 * Issue 16 item 5: workers on other machines through BullMQ on a real Redis (a random loopback port). The
 * coordinator is `run --queue`, each worker a real `odibi-improve worker` process with its own mirror folder; the
 * model is the scripted server over HTTP; git, pytest and the jail are real. Without redis-server CI fails here.
 */

const CI = process.env.CI === "true";
const runs = Boolean(REDIS_SERVER) || CI;

let server: ScriptedLlmServer | undefined;
let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
const workers: ChildProcess[] = [];
afterEach(async () => {
  for (const w of workers.splice(0))
    if (w.exitCode === null && w.signalCode === null) {
      process.kill(-w.pid!, "SIGKILL");
      await once(w, "exit");
    }
  await server?.close();
  server = undefined;
  await redis?.close();
  redis = undefined;
});

interface RunningWorker {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function startWorker(url: string, origin: string, extra: string[] = []): RunningWorker {
  const child = spawn(
    process.execPath,
    workerCommand(url, origin, path.join(tempDir(), "worker"), ["--lock-seconds", "2", ...extra]),
    {
      env: {
        ...process.env,
        ODIBI_IMPROVE_ROOT: "",
        ODIBI_IMPROVE_VENV: inject("venv"),
        [LLM_KEY_ENV]: "sk-test",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  workers.push(child);
  let out = "";
  child.stdout?.on("data", (d) => {
    out += String(d);
  });
  child.stderr?.on("data", (d) => {
    out += String(d);
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  return { child, output: () => out, exited };
}

async function until(what: string, cond: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const setup = (k: number) => initPythonRoot(scaleFiles(k));

const coordinator = (root: string, url: string, flags: string[]) =>
  runWithLlm(root, server!.origin, "scripted", "sk-test", ["--max-attempts", "1", "--queue", url, ...flags]);

/** The worker names (host:pid) that answered the coordinator's jobs, in order. */
const answeredBy = (out: string) => [...out.matchAll(/answered by (\S+)/g)].map((m) => m[1]!);

async function commitsSinceSacred(master: string): Promise<string[]> {
  return (await git(master, ["log", "--reverse", "--format=%s", "sacred..HEAD"]))
    .trim()
    .split("\n")
    .filter(Boolean);
}

describe("workers across machines on BullMQ (real Redis, two worker processes, real CLI)", () => {
  it.runIf(runs)(
    "two workers take the coordinator's attempts; only the coordinator promotes, each fix once",
    async () => {
      expect(REDIS_SERVER, "redis-server is not installed (apt-get install redis-server)").toBeDefined();
      redis = await startRedis();
      const { sacred, root, master, fp } = await setup(2);
      // The coordinator's config turns the jail off; whoever writes jobs does not decide a worker's jail.
      const cfg = path.join(root, "config.yaml");
      writeFileSync(cfg, `${readFileSync(cfg, "utf8")}isolation: none\n`);
      const log: ScaleLog = [];
      server = await startLlmServer(scaleScript(1000, log));
      const w1 = startWorker(redis.url, server.origin);
      const w2 = startWorker(redis.url, server.origin);
      const run = await coordinator(root, redis.url, ["--workers", "2", "--max-cycles", "8"]);
      expect(run.code, run.out + run.err).toBe(0);
      expect(run.out).toContain("NO_WORK");
      // Each attempt went through the queue, answered by a worker process (not the coordinator).
      const by = answeredBy(run.out);
      expect(by).toHaveLength(2);
      const pids = by.map((b) => Number(b.split(":").pop())).sort();
      expect(pids, run.out + w1.output() + w2.output()).toEqual([w1.child.pid!, w2.child.pid!].sort());
      expect(w1.output()).toMatch(/serving .* \(environment [0-9a-f]{16}/);
      for (const w of [w1, w2]) expect(w.output()).toContain("isolation: bwrap");
      // Only the coordinator's Master moved: two promotions, its own gates and snapshots.
      expect(await commitsSinceSacred(master)).toHaveLength(2);
      expect((await statusLines(master)).length).toBe(0);
      expect(readFileSync(path.join(master, "pkg_1.py"), "utf8")).toContain("return 1");
      expect(readFileSync(path.join(master, "pkg_2.py"), "utf8")).toContain("return 2");
      const events = jsonl(path.join(root, "events.jsonl"));
      expect(events.filter((e) => e.type === "step" && e.step === "snapshot_done")).toHaveLength(2);
      const calls = events.filter((e) => e.type === "model_call");
      expect(calls.reduce((n, e) => n + e.tokens, 0)).toBeGreaterThan(0);
      // The workers' trajectories came back with the answers, into the coordinator's trajectories folder.
      const trajectories = readdirSync(path.join(root, "trajectories"), {
        recursive: true,
        withFileTypes: true,
      })
        .filter((d) => d.isFile())
        .map((d) => d.name);
      expect(trajectories.length, trajectories.join(" ")).toBeGreaterThanOrEqual(2);
      const lessons = jsonl(path.join(root, "memory", "lessons.jsonl")).filter(
        (l) => l.outcome === "promoted",
      );
      expect(lessons).toHaveLength(2);
      expect(takeFingerprint(sacred).digest).toBe(fp);
      // A stopped worker finishes what it holds and says how many jobs it ran.
      for (const w of [w1, w2]) w.child.kill("SIGTERM");
      expect(await w1.exited).toBe(0);
      expect(await w2.exited).toBe(0);
      expect(w1.output() + w2.output()).toMatch(/worker stopped after 1 job/);
    },
    300_000,
  );

  it.runIf(runs)(
    "a worker killed mid-attempt: its job is retried by another worker and nothing is lost",
    async () => {
      expect(REDIS_SERVER, "redis-server is not installed (apt-get install redis-server)").toBeDefined();
      redis = await startRedis();
      const { root, master } = await setup(1);
      const log: ScaleLog = [];
      server = await startLlmServer(scaleScript(1500, log));
      const doomed = startWorker(redis.url, server.origin);
      const run = coordinator(root, redis.url, ["--max-cycles", "4"]);
      // The doomed worker holds the attempt (the model has been asked): it dies without a word.
      await until("the first model request", () => log.some((l) => l.at === "start"));
      expect(doomed.output()).toMatch(/job \S+: cycle 1/);
      process.kill(-doomed.child.pid!, "SIGKILL");
      await doomed.exited;
      const rescuer = startWorker(redis.url, server.origin);
      const r = await run;
      expect(r.code, r.out + r.err).toBe(0);
      expect(answeredBy(r.out)).toEqual([expect.stringMatching(new RegExp(`:${rescuer.child.pid}$`))]);
      // The model was asked twice for the task (the dead worker's attempt was run again), and the fix is in once.
      expect(log.filter((l) => l.at === "start").map((l) => l.task)).toEqual(["pkg_1", "pkg_1"]);
      expect(await commitsSinceSacred(master)).toHaveLength(1);
      expect(readFileSync(path.join(master, "pkg_1.py"), "utf8")).toContain("return 1");
    },
    300_000,
  );

  it.runIf(runs)(
    "a worker whose environment differs from the coordinator's is refused, naming the difference",
    async () => {
      expect(REDIS_SERVER, "redis-server is not installed (apt-get install redis-server)").toBeDefined();
      redis = await startRedis();
      server = await startLlmServer(scaleScript(0));
      const client = new Redis(redis.url);
      const foreign: PublishedManifest = {
        environment: {
          tool: "0.0.1",
          protocol: 1,
          platform: process.platform,
          python: "3.8.0",
          packages: { pytest: "7.0.0" },
        },
        hash: "0000000000000000",
        coordinator: "elsewhere:/srv/improve",
        publishedAt: new Date().toISOString(),
      };
      await client.set(MANIFEST_KEY, JSON.stringify(foreign));
      client.disconnect();
      const w = startWorker(redis.url, server.origin, ["--wait-seconds", "30"]);
      expect(await w.exited).toBe(2);
      expect(w.output()).toContain(
        "refused: this worker's environment differs from the coordinator's (elsewhere:/srv/improve)",
      );
      expect(w.output()).toContain(`odibi-improve ${toolVersion()} here, 0.0.1 on the coordinator`);
      expect(w.output()).toMatch(/python 3\.\d+\.\d+ here, 3\.8\.0 on the coordinator/);
      expect(w.output()).toContain("odibi-improve setup");
    },
    120_000,
  );

  it("a --queue that is not a Redis URL, or a Redis that does not answer, is a usage error naming why (no password shown)", async () => {
    await expect(connectRedis("notaurl")).rejects.toThrow(/--queue takes a Redis URL .*"notaurl"/);
    const closed = await freePort();
    const e = await connectRedis(`redis://127.0.0.1:${closed}`).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).message).toContain(
      `cannot reach Redis at redis://127.0.0.1:${closed}: connect ECONNREFUSED`,
    );
    expect((e as UsageError).exitCode).toBe(2);
    // A password in the URL never reaches a message (logs, events, the dashboard).
    const masked = await connectRedis(`redis://:s3cret@127.0.0.1:${closed}/1`).catch((x: Error) => x.message);
    expect(masked).toContain(`redis://:***@127.0.0.1:${closed}/1`);
    expect(masked).not.toContain("s3cret");
  });
});
