/**
 * `npm run bench -- gates` (target `odibi-tests`): odibi's own pytest suite through the tests gate, in one run:
 * - the repository's own command (`python -m pytest -q`), the gate serial, the gate with pytest-xdist (`-n auto`),
 *   whether both gate runs give every test the same outcome, and where the gate's time over the own command goes
 *   (the separate `--collect-only` count, run after the tests; reading the JUnit report);
 * - the targeted step for a few one-line edits of odibi's code: the tests Master's per-test coverage map selects
 *   against the test files the file-name/import heuristic selects (count and time), and the map's build time.
 *
 * The suite: BENCH_ODIBI_REPO (a checkout with tests/, e.g. odibi's git repository), else the pinned sdist;
 * BENCH_ODIBI_TESTS narrows it to some paths (space-separated) on a slow machine. Unjailed, like the other targets.
 */
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createTwoFilesPatch } from "diff";
import { ConfigSchema } from "../../src/config/schema.js";
import type { GateRun } from "../../src/core/types.js";
import { SacredGuard } from "../../src/environment/sacred.js";
import { splitCommandLine } from "../../src/exec/run-process.js";
import { makeGateContext } from "../../src/gates/context.js";
import { coverageMapFor, selectByCoverage } from "../../src/gates/coverage-map.js";
import type { CoverageMap, GateContext } from "../../src/gates/gate.js";
import { outcomeDifferences, XDIST_WORKERS } from "../../src/gates/parallel-tests.js";
import { parseJUnitXml } from "../../src/gates/parsers/junit.js";
import { runToolCommand } from "../../src/gates/run-tool.js";
import { isTestFile, selectTestsForChanges } from "../../src/gates/select-tests.js";
import { testsGate } from "../../src/gates/tests-gate.js";
import { pytest } from "../../src/gates/tools.js";
import { profileOf } from "../../src/profiles/index.js";
import { ensureOdibiSource, ensurePythonEnv } from "../../src/pyenv/python-env.js";

const secs = (ms: number) => `${(ms / 1000).toFixed(1).padStart(6)} s`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

function context(master: string, work: string, command: string, venv: string): GateContext {
  const config = ConfigSchema.parse({
    source: { sacred_repo: path.join(work, "sacred") },
    profile: "odibi",
    commands: { test: command },
  });
  return makeGateContext({
    workdir: master,
    config,
    profile: profileOf("odibi"),
    venv,
    goldenDir: path.join(work, "golden"),
    outputDir: path.join(work, "out"),
  });
}

const counts = (run: GateRun) => {
  const n = (s: string) => run.checks.filter((c) => c.status === s).length;
  return `${n("pass")} passed, ${n("fail")} failed, ${n("skip")} skipped`;
};

/** Rounds of the four full runs (BENCH_ODIBI_ROUNDS, default 2; the fastest of each counts: the machine is shared). */
const ROUNDS = Number(process.env.BENCH_ODIBI_ROUNDS ?? 2);

/** The repository's own command, the gate serial and with xdist; the gate's overhead by part. */
async function fullRuns(ctx: GateContext, ownArgs: string[]): Promise<void> {
  const ownRun = (xdist: boolean) =>
    ctx.workspace.exec(
      "python",
      ["-m", "pytest", "-q", "-p", "no:cacheprovider", ...(xdist ? ["-n", XDIST_WORKERS] : []), ...ownArgs],
      { cwd: ctx.workdir, env: ctx.env, timeoutMs: ctx.timeoutMs },
    );
  // pytest with the gate's own flags (JUnit report, no exit handlers, …) and nothing else: no count, no parsing.
  const flagsOnly = () => {
    const argv = pytest.prepare(splitCommandLine(ctx.commands.test!), {
      outputDir: ctx.outputDir,
      runId: `flags-${Date.now()}`,
    }).argv;
    return ctx.workspace.exec(argv[0]!, argv.slice(1), {
      cwd: ctx.workdir,
      env: ctx.env,
      timeoutMs: ctx.timeoutMs,
    });
  };
  const best = { own: Infinity, ownXdist: Infinity, flags: Infinity, serial: Infinity, parallel: Infinity };
  let serial: GateRun | undefined;
  let parallel: GateRun | undefined;
  const exits = new Set<string>();
  for (let i = 0; i < ROUNDS; i++) {
    const own = await ownRun(false);
    const ownXdist = await ownRun(true);
    exits.add(`${own.exitCode}/${ownXdist.exitCode}`);
    best.flags = Math.min(best.flags, (await flagsOnly()).durationMs);
    serial = await testsGate.run(ctx, {});
    parallel = await testsGate.run({ ...ctx, testWorkers: XDIST_WORKERS }, {});
    best.own = Math.min(best.own, own.durationMs);
    best.ownXdist = Math.min(best.ownXdist, ownXdist.durationMs);
    best.serial = Math.min(best.serial, serial.durationMs);
    best.parallel = Math.min(best.parallel, parallel.durationMs);
  }
  if (!serial || !parallel) return;
  const diff = outcomeDifferences(serial.checks, parallel.checks);
  console.log(
    `  fastest of ${ROUNDS} round(s) each (own command exits serial/-n auto: ${[...exits].join(", ")})`,
  );
  console.log(`  own command serial      ${secs(best.own)}`);
  console.log(`  own command -n auto     ${secs(best.ownXdist)}`);
  console.log(`  pytest + gate's flags   ${secs(best.flags)}  ${ratio(best.flags, best.own)} of own serial`);
  console.log(
    `  tests gate serial       ${secs(best.serial)}  ${ratio(best.serial, best.own)} of own serial; ${counts(serial)}${serial.error ? `; ERROR ${serial.error}` : ""}`,
  );
  console.log(
    `  tests gate -n auto      ${secs(best.parallel)}  ${ratio(best.parallel, best.own)} of own serial, ${ratio(best.parallel, best.ownXdist)} of own -n auto; ${counts(parallel)}${parallel.error ? `; ERROR ${parallel.error}` : ""}`,
  );
  console.log(
    `  gate serial / gate -n auto: ${ratio(best.serial, best.parallel)}; per-test outcomes ${diff.length === 0 ? "identical" : `DIFFER in ${diff.length}: ${diff.slice(0, 3).join("; ")}`}`,
  );
  // The parts of the gate's run beyond pytest itself.
  const collectArgv = pytest.collectArgv!(splitCommandLine(ctx.commands.test!), { outputDir: "", runId: "" });
  const collect = await ctx.workspace.exec(collectArgv[0]!, collectArgv.slice(1), {
    cwd: ctx.workdir,
    env: ctx.env,
    timeoutMs: ctx.timeoutMs,
  });
  const report = readdirSync(ctx.outputDir)
    .filter((f) => f.endsWith(".junit.xml"))
    .map((f) => readFileSync(path.join(ctx.outputDir, f), "utf8"))[0];
  const t = performance.now();
  if (report) parseJUnitXml(report, "pytest", { gate: "tests", workdir: ctx.workdir });
  const parseMs = performance.now() - t;
  console.log(
    `  parts: the separate --collect-only count ${secs(collect.durationMs)} (the gate runs it after the tests); JUnit report parsed in ${secs(parseMs)}`,
  );
}

/** Up to `n` one-line edits in different source files: a line in the middle of the map's test counts. */
function pickEdits(map: CoverageMap, n: number): Array<{ file: string; line: number }> {
  const tested = (f: string) => map.files[f]!.sets.some((set) => set.length > 0);
  const files = Object.keys(map.files)
    .filter((f) => f.startsWith("odibi/") && !isTestFile(f) && tested(f))
    .sort();
  const out: Array<{ file: string; line: number }> = [];
  const step = Math.max(1, Math.floor(files.length / n));
  for (let i = 0; i < files.length && out.length < n; i += step) {
    const entry = map.files[files[i]!]!;
    const lines = Object.entries(entry.lines)
      .map(([ln, set]) => ({ line: Number(ln), tests: entry.sets[set]!.length }))
      .filter((l) => l.tests > 0)
      .sort((a, b) => a.tests - b.tests || a.line - b.line);
    const mid = lines[Math.floor(lines.length / 2)];
    if (mid) out.push({ file: files[i]!, line: mid.line });
  }
  return out;
}

/** The targeted step for one edit: coverage-map selection against the touched-files heuristic. */
async function targeted(
  ctx: GateContext,
  map: CoverageMap,
  edit: { file: string; line: number },
  within: string[],
): Promise<{ map: GateRun; files: GateRun; mapCount: number; fileCount: number }> {
  const abs = path.join(ctx.workdir, edit.file);
  const before = readFileSync(abs, "utf8");
  const lines = before.split("\n");
  lines[edit.line - 1] = `${lines[edit.line - 1]}  # bench edit`;
  const after = lines.join("\n");
  writeFileSync(abs, after);
  try {
    const diff = createTwoFilesPatch(`a/${edit.file}`, `b/${edit.file}`, before, after);
    const ids = selectByCoverage(map, diff, isTestFile).tests;
    const inSuite = (f: string) => within.length === 0 || within.some((w) => f.startsWith(w));
    const files = selectTestsForChanges(ctx.workdir, [edit.file], "pytest").filter(inSuite);
    const cmd = ctx.commands.test!;
    const byMap = ids.length ? await runToolCommand(ctx, "tests", cmd, { only: ids }) : empty();
    const byFiles = files.length ? await runToolCommand(ctx, "tests", cmd, { files }) : empty();
    return { map: byMap, files: byFiles, mapCount: ids.length, fileCount: byFiles.checks.length };
  } finally {
    writeFileSync(abs, before);
  }
}

const empty = (): GateRun => ({ gate: "tests", checks: [], durationMs: 0 });

export async function benchOdibiTests(): Promise<void> {
  const venv = (await ensurePythonEnv({ odibi: true })).venv;
  const source = process.env.BENCH_ODIBI_REPO ?? (await ensureOdibiSource());
  const within = (process.env.BENCH_ODIBI_TESTS ?? "").split(/\s+/).filter(Boolean);
  const work = path.join(os.tmpdir(), `oi-bench-odibi-tests-${process.pid}`);
  const master = path.join(work, "master");
  cpSync(source, master, { recursive: true, filter: (f) => path.basename(f) !== ".git" });
  try {
    const full = context(master, work, ["python -m pytest -q", ...within].join(" "), venv);
    console.log(
      `\nbench gates — odibi's pytest suite (${source}${within.length ? `: ${within.join(" ")}` : ""})`,
    );
    await fullRuns(full, within);
    const guard = new SacredGuard(path.join(work, "sacred"));
    const built = await coverageMapFor(full, { dir: path.join(work, "plans"), guard, treeHash: "bench" });
    if ("missing" in built) {
      console.log(`  coverage map: none (${built.missing})`);
      return;
    }
    console.log(
      `  coverage map: ${built.tests.length} tests over ${Object.keys(built.files).length} files, built in ${secs(built.builtMs)}`,
    );
    // Targeted runs name their tests: the command without the suite's paths.
    const narrow = context(master, work, "python -m pytest -q", venv);
    for (const edit of pickEdits(built, 3)) {
      const r = await targeted(narrow, built, edit, within);
      console.log(
        `  edit ${edit.file}:${edit.line}: map ${r.mapCount} test(s) ${secs(r.map.durationMs)}; touched files ${r.fileCount} test(s) ${secs(r.files.durationMs)}; files / map ${r.map.durationMs ? ratio(r.files.durationMs, r.map.durationMs) : "n/a"}`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
