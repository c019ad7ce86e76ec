/**
 * bench/campaign (issue 16): promotions per hour of a whole campaign through the real CLI, by number of workers and
 * verification mode (and two workers over a real Redis: `run --queue`), measured in one run. The fixture (tests/campaign-scale.ts): `K` independent defects, a slow
 * suite (`SLOW` tests of `SLOW_S` seconds that no candidate touches, so only full runs pay them), a scripted model
 * over HTTP answering each request after `DELAY_MS` (three requests per fix). Every mode must end with the same
 * Master content (its tree hash): the bench fails otherwise.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { git } from "../src/environment/git.js";
import { runProcess } from "../src/exec/run-process.js";
import { ensurePythonEnv } from "../src/pyenv/python-env.js";
import { scaleFiles, scaleScript } from "../tests/campaign-scale.js";
import { startLlmServer } from "../tests/llm-server.js";
import { startRedis, workerCommand } from "../tests/redis-server.js";

const CLI = path.resolve(import.meta.dirname, "..", "bin", "odibi-improve.js");
const K = Number(process.env.BENCH_DEFECTS ?? 4);
const SLOW = Number(process.env.BENCH_SLOW_TESTS ?? 6);
const SLOW_S = Number(process.env.BENCH_SLOW_SECONDS ?? 1);
const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 2000);

interface Mode {
  label: string;
  flags: string[];
  /** Model attempts on two `odibi-improve worker` processes through a real Redis (`run --queue`). */
  redis?: boolean;
}

const MODES: Mode[] = [
  { label: "1 worker, per-candidate", flags: ["--workers", "1", "--verification", "candidate"] },
  { label: "2 workers, per-candidate", flags: ["--workers", "2", "--verification", "candidate"] },
  { label: "1 worker, batched", flags: ["--workers", "1", "--verification", "batch"] },
  { label: "2 workers, batched", flags: ["--workers", "2", "--verification", "batch"] },
  {
    label: "2 workers over Redis",
    flags: ["--workers", "2", "--verification", "candidate"],
    redis: true,
  },
];

/** Two worker processes on `url` using the scripted model at `origin`; stop() ends them (SIGTERM) and waits. */
function startWorkers(url: string, origin: string, venv: string, work: string) {
  const children = [1, 2].map((i) =>
    spawn(process.execPath, workerCommand(url, origin, path.join(work, `worker-${i}-${Date.now()}`)), {
      env: {
        ...process.env,
        ODIBI_IMPROVE_ROOT: "",
        ODIBI_IMPROVE_VENV: venv,
        OPENAI_COMPATIBLE_API_KEY: "sk-bench",
      },
      stdio: "ignore",
    }),
  );
  return {
    async stop() {
      for (const c of children) c.kill("SIGTERM");
      await Promise.all(children.map((c) => (c.exitCode === null ? once(c, "exit") : undefined)));
    },
  };
}

async function cli(args: string[], venv: string, env: Record<string, string> = {}) {
  return runProcess(process.execPath, [CLI, ...args], {
    cwd: process.cwd(),
    timeoutMs: 1_800_000,
    env: { ODIBI_IMPROVE_ROOT: undefined, ODIBI_IMPROVE_VENV: venv, ...env },
  });
}

async function makeSacred(dir: string): Promise<string> {
  for (const [rel, text] of Object.entries(scaleFiles(K, { slow: SLOW, slowSeconds: SLOW_S }))) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  await git(dir, ["init", "-q", "-b", "main"]);
  await git(dir, ["add", "-A"]);
  await git(dir, [
    "-c",
    "user.name=bench",
    "-c",
    "user.email=bench@localhost",
    "commit",
    "-q",
    "-m",
    "fixture",
  ]);
  return dir;
}

async function runMode(mode: Mode, sacred: string, work: string, venv: string) {
  const root = path.join(work, mode.label.replace(/[^a-z0-9]+/gi, "-"));
  const init = await cli(["init", "--source", sacred, "--root", root, "--profile", "python"], venv);
  if (init.exitCode !== 0) throw new Error(`init failed: ${init.stderr}`);
  const cfg = path.join(root, "config.yaml");
  writeFileSync(
    cfg,
    `${readFileSync(cfg, "utf8").replace("gates:\n", "gates:\n  flake_reruns: 0\n")}llm:\n  max_retries: 0\n`,
  );
  const server = await startLlmServer(scaleScript(DELAY_MS));
  const redis = mode.redis ? await startRedis() : undefined;
  const remote = redis ? startWorkers(redis.url, server.origin, venv, work) : undefined;
  const started = performance.now();
  const r = await cli(
    [
      "--root",
      root,
      "run",
      "--llm-provider",
      "openai-compatible",
      "--llm-base-url",
      `${server.origin}/v1`,
      "--llm-model",
      "scripted",
      "--max-attempts",
      "1",
      "--max-cycles",
      String(4 * K),
      ...mode.flags,
      ...(redis ? ["--queue", redis.url] : []),
    ],
    venv,
    { OPENAI_COMPATIBLE_API_KEY: "sk-bench" },
  );
  const seconds = (performance.now() - started) / 1000;
  await remote?.stop();
  await redis?.close();
  await server.close();
  const master = path.join(root, "master");
  const promoted = Number((await git(master, ["rev-list", "--count", "sacred..HEAD"])).trim());
  const tree = (await git(master, ["rev-parse", "HEAD^{tree}"])).trim();
  if (r.exitCode !== 0) throw new Error(`${mode.label}: run exited ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
  return { seconds, promoted, tree, perHour: (promoted / seconds) * 3600 };
}

export async function run(): Promise<void> {
  const { venv } = await ensurePythonEnv({});
  const work = mkdtempSync(path.join(os.tmpdir(), "oi-bench-campaign-"));
  const sacred = await makeSacred(path.join(work, "sacred"));
  console.log(
    `bench/campaign: ${K} defects, slow suite ${SLOW} × ${SLOW_S}s, model answers after ${DELAY_MS} ms (3 requests per fix), ${os.cpus().length} cores`,
  );
  const rows: Array<{ mode: Mode; r: Awaited<ReturnType<typeof runMode>> }> = [];
  for (const mode of MODES) {
    const r = await runMode(mode, sacred, work, venv);
    rows.push({ mode, r });
    console.log(
      `  ${mode.label.padEnd(26)} ${r.promoted} promoted in ${r.seconds.toFixed(1)} s: ${r.perHour.toFixed(0)} promotions/hour`,
    );
  }
  const base = rows[0]!.r.perHour;
  console.log(
    "\n| mode | promoted | seconds | promotions/hour | vs 1 worker, per-candidate |\n|---|---|---|---|---|",
  );
  for (const { mode, r } of rows)
    console.log(
      `| ${mode.label} | ${r.promoted} | ${r.seconds.toFixed(1)} | ${r.perHour.toFixed(0)} | ${(r.perHour / base).toFixed(2)}× |`,
    );
  const trees = new Set(rows.map((x) => x.r.tree));
  if (trees.size !== 1 || rows.some((x) => x.r.promoted !== K))
    throw new Error(
      `the modes ended with different Masters: ${rows.map((x) => `${x.mode.label}: ${x.r.tree} (${x.r.promoted})`).join("; ")}`,
    );
  console.log(
    `\nSame final Master content in every mode (tree ${[...trees][0]!.slice(0, 12)}), ${K} promotions each.`,
  );
}
