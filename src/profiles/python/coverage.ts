import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { MissingTool, OdibiImproveError } from "../../core/errors.js";
import { readRegularFile } from "../../exec/read-regular-file.js";
import { describeEnd } from "../../exec/run-process.js";
import type { GateContext } from "../../gates/gate.js";

/** Line and branch coverage of one source file (tree-relative `/` path). */
export interface FileCoverage {
  file: string;
  /** Lines that ran, ascending. */
  executed: number[];
  /** Statements that never ran, ascending. */
  missing: number[];
  statements: number;
  branches: { covered: number; total: number };
  /** Branches never taken, as `[from line, to line]` (a negative `to` is an exit from the function). */
  missingBranches: [number, number][];
  /** coverage.py's percent (statements and branches together), 0–100. */
  percent: number;
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

const CoverageJson = z.object({
  files: z.record(
    z.string(),
    z.object({
      executed_lines: z.array(z.number()),
      missing_lines: z.array(z.number()),
      missing_branches: z.array(z.tuple([z.number(), z.number()])).default([]),
      summary: z.looseObject({
        num_statements: z.number(),
        percent_covered: z.number(),
        num_branches: z.number().default(0),
        covered_branches: z.number().default(0),
      }),
    }),
  ),
  totals: z.looseObject({
    num_statements: z.number(),
    covered_lines: z.number(),
    percent_covered: z.number(),
    num_branches: z.number().default(0),
    covered_branches: z.number().default(0),
  }),
});

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
    files[file] = {
      file,
      executed: f.executed_lines,
      missing: f.missing_lines,
      statements: f.summary.num_statements,
      branches: { covered: f.summary.covered_branches, total: f.summary.num_branches },
      missingBranches: f.missing_branches,
      percent: f.summary.percent_covered,
    };
  }
  const t = raw.totals;
  return {
    files,
    totals: {
      statements: t.num_statements,
      covered: t.covered_lines,
      branches: t.num_branches,
      coveredBranches: t.covered_branches,
      percent: t.percent_covered,
    },
  };
}

/** coverage.py's configuration for a run: ours, so the tree's own `[tool.coverage]` cannot change what is measured. */
function rcfile(dataFile: string, source: readonly string[] | undefined): string {
  return [
    "[run]",
    "branch = True",
    `data_file = ${dataFile}`,
    ...(source?.length ? [`source =\n${source.map((s) => `    ${s}`).join("\n")}`] : []),
    "",
  ].join("\n");
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
  const dir = path.join(ctx.outputDir, `coverage-${randomUUID()}`);
  mkdirSync(dir, { recursive: true });
  const rc = path.join(dir, "coveragerc");
  writeFileSync(rc, rcfile(path.join(dir, ".coverage"), opts.source));
  const exec = (args: string[]) =>
    ctx.workspace.exec("python", args, {
      cwd: ctx.workdir,
      env: { ...ctx.env, PYTHONDONTWRITEBYTECODE: "1" },
      timeoutMs: opts.timeoutMs ?? ctx.timeoutMs,
      signal: ctx.signal,
    });
  try {
    const run = await exec([
      "-m",
      "coverage",
      "run",
      `--rcfile=${rc}`,
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
    const report = path.join(dir, "coverage.json");
    const include = opts.include?.length ? [`--include=${opts.include.join(",")}`] : [];
    const json = await exec(["-m", "coverage", "json", `--rcfile=${rc}`, "-q", "-o", report, ...include]);
    const read = readRegularFile(report);
    // coverage exits 1 with "No data to report." when nothing it measures ran.
    if (read.kind !== "text" && /No data to report/.test(json.stdout + json.stderr))
      return { files: {}, totals: emptyTotals(), pytestExit: run.exitCode!, durationMs: ms(started) };
    if (read.kind !== "text")
      throw new CoverageError(
        `coverage json wrote no report (${describeEnd(json)}):\n${(json.stderr || json.stdout).slice(-2000)}`,
      );
    return {
      ...parseCoverageJson(read.text, ctx.workdir),
      pytestExit: run.exitCode!,
      durationMs: ms(started),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function emptyTotals(): CoverageRun["totals"] {
  return { statements: 0, covered: 0, branches: 0, coveredBranches: 0, percent: 0 };
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
