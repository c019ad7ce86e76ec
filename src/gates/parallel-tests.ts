import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Check, GateRun } from "../core/types.js";
import { writeFileAtomic } from "../environment/fs-safe.js";
import type { SacredGuard } from "../environment/sacred.js";
import { readRegularFile } from "../exec/read-regular-file.js";
import { describeEnd, splitCommandLine } from "../exec/run-process.js";
import type { GateContext } from "./gate.js";
import { runToolCommand, toolOf } from "./run-tool.js";
import { listTestFiles } from "./select-tests.js";

/** `gates.parallel_tests`: auto checks Master's suite once; on and off force it. */
export type ParallelSetting = "auto" | "on" | "off";

/** Whether the tests gate's full runs use pytest-xdist (`-n auto`), and why. */
export interface ParallelVerdict {
  parallel: boolean;
  reason: string;
  /** Whether every test had the same outcome in both runs (when both completed). */
  agree?: boolean;
  /** Tests compared, and each run's time, when the suite was checked. */
  tests?: number;
  serialMs?: number;
  parallelMs?: number;
  decidedAt: string;
  cached?: boolean;
}

export const XDIST_WORKERS = "auto";

/** What the suite's parallel safety depends on: the command and the tests' files and configuration. */
const CONFIG_FILES = ["pyproject.toml", "pytest.ini", "setup.cfg", "tox.ini", "conftest.py"];

export function parallelKey(ctx: GateContext): string {
  const h = createHash("sha256").update(JSON.stringify([ctx.commands.test, ctx.isolation ?? "none"]));
  const files = [...CONFIG_FILES, ...listTestFiles(ctx.workdir), ...conftests(ctx.workdir)];
  for (const f of [...new Set(files)].sort()) {
    const read = readRegularFile(path.join(ctx.workdir, f), 4 * 1024 * 1024);
    h.update(`${f}\0${read.kind === "text" ? read.text : read.kind}\0`);
  }
  return h.digest("hex");
}

function conftests(root: string): string[] {
  return listTestFiles(root)
    .map((t) => path.posix.join(path.posix.dirname(t), "conftest.py"))
    .filter((c) => existsSync(path.join(root, c)));
}

/** Per-test outcomes that differ between the two runs: `id: serial → parallel`. */
export function outcomeDifferences(serial: readonly Check[], parallel: readonly Check[]): string[] {
  const of = (checks: readonly Check[]) => new Map(checks.map((c) => [c.id, c.status]));
  const [a, b] = [of(serial), of(parallel)];
  const out: string[] = [];
  for (const id of new Set([...a.keys(), ...b.keys()]))
    if (a.get(id) !== b.get(id)) out.push(`${id}: ${a.get(id) ?? "not run"} → ${b.get(id) ?? "not run"}`);
  return out.sort();
}

async function xdistMissing(ctx: GateContext): Promise<string | undefined> {
  const python = splitCommandLine(ctx.commands.test!)[0]!;
  mkdirSync(ctx.outputDir, { recursive: true });
  const r = await ctx.workspace.exec(python, ["-c", "import xdist"], {
    cwd: ctx.outputDir,
    env: ctx.env,
    timeoutMs: 60_000,
  });
  if (r.exitCode === 0) return undefined;
  return /No module named/.test(r.stderr)
    ? "pytest-xdist is not installed where the tests run (run `odibi-improve setup`)"
    : `could not check for pytest-xdist (${describeEnd(r)}): ${r.stderr.trim().split("\n").slice(-2).join(" ")}`;
}

/**
 * Run Master's suite with `-n auto` (and serially, unless `serial` is the serial full run Master's baseline just
 * made); parallel only when every test has the same outcome and the parallel run is faster.
 */
async function checkSuite(ctx: GateContext, given?: GateRun): Promise<Omit<ParallelVerdict, "decidedAt">> {
  const command = ctx.commands.test!;
  const serial = given ?? (await runToolCommand(ctx, "tests", command));
  if (serial.error !== undefined)
    return { parallel: false, reason: `the serial run did not complete: ${serial.error}` };
  const parallel = await runToolCommand(ctx, "tests", command, { workers: XDIST_WORKERS });
  const times = { serialMs: serial.durationMs, parallelMs: parallel.durationMs };
  const secs = `serial ${(serial.durationMs / 1000).toFixed(1)}s, -n ${XDIST_WORKERS} ${(parallel.durationMs / 1000).toFixed(1)}s`;
  if (parallel.error !== undefined)
    return { parallel: false, reason: `the parallel run did not complete: ${parallel.error}`, ...times };
  const diff = outcomeDifferences(serial.checks, parallel.checks);
  const tests = serial.checks.length;
  if (diff.length > 0)
    return {
      parallel: false,
      agree: false,
      reason: `${diff.length} test(s) differ in parallel (${diff.slice(0, 3).join("; ")}${diff.length > 3 ? "; …" : ""}); ${secs}`,
      tests,
      ...times,
    };
  // Worker start-up (each worker imports the suite) can cost more than it saves on a small suite or a busy machine.
  if (parallel.durationMs >= serial.durationMs)
    return {
      parallel: false,
      agree: true,
      reason: `serial and parallel runs agree on ${tests} test(s), but parallel is not faster; ${secs}`,
      tests,
      ...times,
    };
  return {
    parallel: true,
    agree: true,
    reason: `serial and parallel runs agree on ${tests} test(s); ${secs}`,
    tests,
    ...times,
  };
}

export interface ParallelOptions {
  setting: ParallelSetting;
  dir: string;
  guard: SacredGuard;
  /** Master's serial full run of the tests gate, when there is one (saves a run). */
  serial?: GateRun;
  /** Only what is known without running the suite: undefined when auto has not decided for this suite yet. */
  knownOnly?: boolean;
}

/**
 * Decide, on Master's tree (`ctx.workdir`), whether the tests gate runs its full suite with pytest-xdist. `auto`
 * runs the suite serially and in parallel once and compares every test's outcome; the verdict is stored in `dir`
 * under the suite's key (`parallelKey`: the command, the test files and the pytest configuration), so it is
 * checked again only when those change. The caller sets `ctx.testWorkers` from it.
 */
export async function decideParallelTests(
  ctx: GateContext,
  opts: ParallelOptions,
): Promise<ParallelVerdict | undefined> {
  const decidedAt = new Date().toISOString();
  const command = ctx.commands.test;
  if (!command || toolOf(command).tool !== "pytest")
    return { parallel: false, reason: "the test command is not pytest", decidedAt };
  if (opts.setting === "off") return { parallel: false, reason: "gates.parallel_tests is off", decidedAt };
  const missing = await xdistMissing(ctx);
  if (missing) return { parallel: false, reason: missing, decidedAt };
  if (opts.setting === "on") return { parallel: true, reason: "gates.parallel_tests is on", decidedAt };
  const file = path.join(opts.dir, `parallel-${parallelKey(ctx)}.json`);
  if (existsSync(file)) {
    try {
      return { ...(JSON.parse(readFileSync(file, "utf8")) as ParallelVerdict), cached: true };
    } catch {
      // A damaged verdict is decided again.
    }
  }
  if (opts.knownOnly) return undefined;
  ctx.log?.("[test plan] checking whether Master's suite gives the same results in parallel (pytest-xdist)");
  const verdict: ParallelVerdict = { ...(await checkSuite(ctx, opts.serial)), decidedAt };
  // A serial run that did not complete (a timeout, a stop) may be transient: decided again next time.
  if (!ctx.signal?.aborted && !verdict.reason.startsWith("the serial run"))
    writeFileAtomic(opts.guard, file, JSON.stringify(verdict, null, 2));
  return verdict;
}
