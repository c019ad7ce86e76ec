import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { MissingTool, OdibiImproveError } from "../../core/errors.js";
import { readRegularFile } from "../../exec/read-regular-file.js";
import { describeEnd } from "../../exec/run-process.js";
import type { GateContext } from "../../gates/gate.js";

/** Line and branch coverage of a part of a file (the file, a function, a class), as coverage.py counts it. */
export interface Region {
  /** Lines that ran, ascending. */
  executed: number[];
  /** Statements that never ran, ascending. */
  missing: number[];
  /** Branches taken / never taken, as `[from line, to line]` (a negative `to` is an exit from the function). */
  executedBranches: [number, number][];
  missingBranches: [number, number][];
}

/** Line and branch coverage of one source file (tree-relative `/` path). */
export interface FileCoverage extends Region {
  file: string;
  statements: number;
  branches: { covered: number; total: number };
  /** coverage.py's percent (statements and branches together), 0–100. */
  percent: number;
  /** By qualified name (`f`, `A.f`, `g.inner`; each without its nested functions). */
  functions: Record<string, Region>;
  /** By class name (its methods' lines). */
  classes: Record<string, Region>;
}

export interface CoverageRun {
  /** By tree-relative path. Only measured files (with `source`, also the ones never imported: 0 %). */
  files: Record<string, FileCoverage>;
  totals: { statements: number; covered: number; branches: number; coveredBranches: number; percent: number };
  /** pytest's exit code: 0 all passed, 1 some failed, 5 nothing collected (coverage is measured all the same). */
  pytestExit: number;
  durationMs: number;
}

export interface CoverageOptions {
  /** Test files or node ids (tree-relative) to run; empty or absent: the whole suite (pytest's own config). */
  tests?: readonly string[];
  /**
   * What to measure (coverage's `source`: packages or folders, tree-relative). Files under them that no test imports
   * count with 0 %. Absent: every file that ran outside the venv and the standard library.
   */
  source?: readonly string[];
  /** Report only these source files (tree-relative paths or globs, coverage's `--include`). */
  include?: readonly string[];
  /** More pytest arguments (after the tests), e.g. `["-x"]`. */
  pytestArgs?: readonly string[];
  /** Default: the context's. */
  timeoutMs?: number;
}

export class CoverageError extends OdibiImproveError {}

const INSTALL =
  "run `odibi-improve setup` (it installs coverage into the gates' venv), or `pip install coverage`";

const Pair = z.tuple([z.number(), z.number()]);
const RegionJson = z.object({
  executed_lines: z.array(z.number()),
  missing_lines: z.array(z.number()),
  executed_branches: z.array(Pair).default([]),
  missing_branches: z.array(Pair).default([]),
});
const CoverageJson = z.object({
  files: z.record(
    z.string(),
    RegionJson.extend({
      summary: z.looseObject({ percent_covered: z.number() }),
      functions: z.record(z.string(), RegionJson).default({}),
      classes: z.record(z.string(), RegionJson).default({}),
    }),
  ),
});

function regionOf(r: z.output<typeof RegionJson>): Region {
  return {
    executed: r.executed_lines,
    missing: r.missing_lines,
    executedBranches: r.executed_branches,
    missingBranches: r.missing_branches,
  };
}

/** How much of a region ran: statements, branches, and coverage.py's percent of both together. Pure. */
export function regionStats(r: Region): {
  statements: number;
  covered: number;
  branches: number;
  coveredBranches: number;
  percent: number;
} {
  const statements = r.executed.length + r.missing.length;
  const branches = r.executedBranches.length + r.missingBranches.length;
  const done = r.executed.length + r.executedBranches.length;
  const all = statements + branches;
  return {
    statements,
    covered: r.executed.length,
    branches,
    coveredBranches: r.executedBranches.length,
    percent: all === 0 ? 100 : (100 * done) / all,
  };
}

function fileOf(
  file: string,
  region: Region,
  functions: Record<string, Region>,
  classes: Record<string, Region>,
): FileCoverage {
  const st = regionStats(region);
  return {
    file,
    ...region,
    statements: st.statements,
    branches: { covered: st.coveredBranches, total: st.branches },
    percent: st.percent,
    functions,
    classes,
  };
}

/** Totals over files. Pure. */
export function coverageTotals(files: Record<string, FileCoverage>): CoverageRun["totals"] {
  const t = { statements: 0, covered: 0, branches: 0, coveredBranches: 0, percent: 100 };
  for (const f of Object.values(files)) {
    t.statements += f.statements;
    t.covered += f.executed.length;
    t.branches += f.branches.total;
    t.coveredBranches += f.branches.covered;
  }
  const all = t.statements + t.branches;
  t.percent = all === 0 ? 100 : (100 * (t.covered + t.coveredBranches)) / all;
  return t;
}

/** coverage.py's JSON report → per-file data (paths made tree-relative with `/`). Pure. */
export function parseCoverageJson(
  text: string,
  workdir: string,
): Omit<CoverageRun, "pytestExit" | "durationMs"> {
  const raw = CoverageJson.parse(JSON.parse(text));
  const files: Record<string, FileCoverage> = {};
  for (const [name, f] of Object.entries(raw.files)) {
    const rel = path.isAbsolute(name) ? path.relative(workdir, name) : name;
    const file = rel.split(path.sep).join("/");
    const regions = (m: Record<string, z.output<typeof RegionJson>>) =>
      Object.fromEntries(
        Object.entries(m)
          .filter(([k]) => k !== "")
          .map(([k, v]) => [k, regionOf(v)]),
      );
    files[file] = fileOf(file, regionOf(f), regions(f.functions), regions(f.classes));
  }
  return { files, totals: coverageTotals(files) };
}

const sorted = (xs: Iterable<number>) => [...new Set(xs)].sort((a, b) => a - b);

/** Two measures of the same code together: what ran in either (a line or branch missing only if missing in both). */
export function mergeRegions(a: Region, b: Region): Region {
  const key = (p: [number, number]) => p.join(">");
  const executed = sorted([...a.executed, ...b.executed]);
  const ran = new Set(executed);
  const taken = new Map([...a.executedBranches, ...b.executedBranches].map((p) => [key(p), p]));
  const notTaken = new Map(
    [...a.missingBranches, ...b.missingBranches].filter((p) => !taken.has(key(p))).map((p) => [key(p), p]),
  );
  const byLine = (x: [number, number], y: [number, number]) => x[0] - y[0] || x[1] - y[1];
  return {
    executed,
    missing: sorted([...a.missing, ...b.missing].filter((l) => !ran.has(l))),
    executedBranches: [...taken.values()].sort(byLine),
    missingBranches: [...notTaken.values()].sort(byLine),
  };
}

function mergeMaps(a: Record<string, Region>, b: Record<string, Region>): Record<string, Region> {
  const out: Record<string, Region> = { ...a };
  for (const [k, r] of Object.entries(b)) out[k] = out[k] ? mergeRegions(out[k], r) : r;
  return out;
}

/** The union of two measures (tests, harness runs) of the same tree, per file. Pure. */
export function mergeCoverage(
  a: Record<string, FileCoverage>,
  b: Record<string, FileCoverage>,
): Record<string, FileCoverage> {
  const out: Record<string, FileCoverage> = { ...a };
  for (const [file, f] of Object.entries(b)) {
    const o = out[file];
    out[file] = o
      ? fileOf(file, mergeRegions(o, f), mergeMaps(o.functions, f.functions), mergeMaps(o.classes, f.classes))
      : f;
  }
  return out;
}

/** coverage.py's configuration for a run: ours, so the tree's own `[tool.coverage]` cannot change what is measured. */
function rcfile(dataFile: string, source: readonly string[] | undefined, parallel = false): string {
  return [
    "[run]",
    "branch = True",
    `data_file = ${dataFile}`,
    ...(parallel ? ["parallel = True"] : []),
    ...(source?.length ? [`source =\n${source.map((s) => `    ${s}`).join("\n")}`] : []),
    "",
  ].join("\n");
}

/** A fresh folder for one measure (data, rcfile, report) under the output folder, and python run from the tree. */
function measureKit(ctx: GateContext, timeoutMs: number | undefined) {
  const dir = path.join(ctx.outputDir, `coverage-${randomUUID()}`);
  mkdirSync(dir, { recursive: true });
  const rc = path.join(dir, "coveragerc");
  const exec = (args: string[]) =>
    ctx.workspace.exec("python", args, {
      cwd: ctx.workdir,
      env: { ...ctx.env, PYTHONDONTWRITEBYTECODE: "1" },
      timeoutMs: timeoutMs ?? ctx.timeoutMs,
      signal: ctx.signal,
    });
  return { dir, rc, exec };
}

/** `coverage json` of the kit's data (after `combine` for parallel data), parsed; empty when nothing was measured. */
async function reportOf(
  ctx: GateContext,
  kit: ReturnType<typeof measureKit>,
  include: readonly string[] | undefined,
): Promise<Omit<CoverageRun, "pytestExit" | "durationMs">> {
  const report = path.join(kit.dir, "coverage.json");
  const inc = include?.length ? [`--include=${include.join(",")}`] : [];
  const json = await kit.exec(["-m", "coverage", "json", `--rcfile=${kit.rc}`, "-q", "-o", report, ...inc]);
  const read = readRegularFile(report);
  const said = json.stdout + json.stderr;
  if (/No module named coverage\b/.test(said)) throw new MissingTool("coverage", INSTALL);
  // coverage exits 1 with "No data to report." when nothing it measures ran.
  if (read.kind !== "text" && /No data to report/.test(said))
    return { files: {}, totals: coverageTotals({}) };
  if (read.kind !== "text")
    throw new CoverageError(`coverage json wrote no report (${describeEnd(json)}):\n${said.slice(-2000)}`);
  return parseCoverageJson(read.text, ctx.workdir);
}

/**
 * Run pytest under coverage.py (line and branch) on the context's tree, jailed and with the environment of the tests
 * gate (`ctx.workspace.exec`, `ctx.env`: the venv's python, the tree's code on PYTHONPATH):
 * `python -m coverage run --rcfile=<ours> -m pytest -q -p no:cacheprovider [tests…] [pytestArgs…]`, then
 * `python -m coverage json [--include=…]`. Failing tests do not stop the measure (`pytestExit` says how pytest
 * ended). The data file, the rcfile and the JSON report live in a fresh folder under `ctx.outputDir` that is removed
 * afterwards: the tree under test is not written (pytest's cache is off).
 *
 * Example (testgen: does a new test raise its target's coverage?):
 * `(await runCoverage(ctx, { tests: ["tests/test_new.py"], include: ["odibi/x.py"] })).files["odibi/x.py"]?.percent`.
 *
 * Throws `MissingTool` (what to install) when the venv has no coverage.py, `CoverageError` when pytest could not
 * run (timeout, usage error) or coverage wrote no report.
 */
export async function runCoverage(ctx: GateContext, opts: CoverageOptions = {}): Promise<CoverageRun> {
  const started = performance.now();
  const kit = measureKit(ctx, opts.timeoutMs);
  writeFileSync(kit.rc, rcfile(path.join(kit.dir, ".coverage"), opts.source));
  try {
    const run = await kit.exec([
      "-m",
      "coverage",
      "run",
      `--rcfile=${kit.rc}`,
      "-m",
      "pytest",
      "-q",
      "-p",
      "no:cacheprovider",
      ...(opts.tests ?? []),
      ...(opts.pytestArgs ?? []),
    ]);
    const out = `${run.stdout}\n${run.stderr}`;
    if (/No module named coverage\b/.test(out)) throw new MissingTool("coverage", INSTALL);
    if (run.spawnError || run.timedOut || run.aborted || ![0, 1, 5].includes(run.exitCode ?? -1))
      throw new CoverageError(
        `pytest under coverage did not complete (${describeEnd(run)}):\n${out.slice(-3000)}`,
      );
    return {
      ...(await reportOf(ctx, kit, opts.include)),
      pytestExit: run.exitCode!,
      durationMs: ms(started),
    };
  } finally {
    rmSync(kit.dir, { recursive: true, force: true });
  }
}

/**
 * The coverage of every Python process `run` starts with the environment it is given (odibi's harness runs: `odibi
 * run`, `odibi validate` as the golden gate starts them): a `sitecustomize.py` on PYTHONPATH calls
 * `coverage.process_startup()`, which measures each process that sees `COVERAGE_PROCESS_START` (parallel data
 * files, combined afterwards). `source` is as runCoverage's, resolved from the tree. Everything lives in a folder
 * under `ctx.outputDir`, removed afterwards.
 */
export async function collectCoverage<T>(
  ctx: GateContext,
  opts: Pick<CoverageOptions, "source" | "include" | "timeoutMs">,
  run: (env: Record<string, string>) => Promise<T>,
): Promise<{ result: T; coverage: Omit<CoverageRun, "pytestExit" | "durationMs"> }> {
  const kit = measureKit(ctx, opts.timeoutMs);
  const source = opts.source?.map((s) => path.resolve(ctx.workdir, s));
  writeFileSync(kit.rc, rcfile(path.join(kit.dir, ".coverage"), source, true));
  writeFileSync(path.join(kit.dir, "sitecustomize.py"), "import coverage\ncoverage.process_startup()\n");
  const inherited = ctx.env.PYTHONPATH;
  const env = {
    ...ctx.env,
    PYTHONPATH: [kit.dir, ...(inherited ? [inherited] : [])].join(path.delimiter),
    COVERAGE_PROCESS_START: kit.rc,
  };
  try {
    const result = await run(env);
    const combine = await kit.exec(["-m", "coverage", "combine", `--rcfile=${kit.rc}`, "-q", kit.dir]);
    const said = combine.stdout + combine.stderr;
    if (/No module named coverage\b/.test(said)) throw new MissingTool("coverage", INSTALL);
    if (combine.exitCode !== 0 && !/No data to combine/.test(said))
      throw new CoverageError(`coverage combine failed (${describeEnd(combine)}):\n${said.slice(-2000)}`);
    return { result, coverage: await reportOf(ctx, kit, opts.include) };
  } finally {
    rmSync(kit.dir, { recursive: true, force: true });
  }
}

function ms(started: number): number {
  return Math.round(performance.now() - started);
}

/** `[3, 4, 5, 9]` → `"3-5, 9"` (for a task's detail). Pure. */
export function lineRanges(lines: readonly number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    let j = i;
    while (j + 1 < lines.length && lines[j + 1] === lines[j]! + 1) j++;
    out.push(i === j ? `${lines[i]}` : `${lines[i]}-${lines[j]}`);
    i = j + 1;
  }
  return out.join(", ");
}

const NOT_SOURCE = /^(?:tests?|testing|docs?|examples?|benchmarks?|bench|scripts?)$/i;

/**
 * What a plain Python tree's coverage measures: its top-level packages (folders with `__init__.py` at the root or
 * under `src/`), test, doc and example folders left out. Tree-relative; empty when it has none.
 */
export function coverageSource(workdir: string): string[] {
  const out: string[] = [];
  for (const base of ["", "src"]) {
    const dir = path.join(workdir, base);
    if (!existsSync(dir)) continue;
    for (const e of readdirSync(dir, { withFileTypes: true }))
      if (
        e.isDirectory() &&
        !NOT_SOURCE.test(e.name) &&
        !e.name.startsWith(".") &&
        existsSync(path.join(dir, e.name, "__init__.py"))
      )
        out.push(base ? `${base}/${e.name}` : e.name);
  }
  return out.sort();
}
