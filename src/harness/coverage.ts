import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { GateContext } from "../gates/gate.js";
import { pythonImportRoot } from "../profiles/odibi/gate-env.js";
import {
  type CoverageRun,
  coverageTotals,
  type FileCoverage,
  mergeCoverage,
  type Region,
  regionStats,
  runCoverage,
} from "../profiles/python/coverage.js";
import type { OdibiIntrospection } from "./introspect.js";

/**
 * Line and branch coverage of the package under test (odibi) by its tests and by the harness runs, per module and
 * per transformer / pattern. A transformer is mapped to its code through the introspection (never a list): its
 * module (`fn.__module__`) → the file, its function (`function`, else its registered name) → that function, its
 * nested functions and the module's private helpers named after it (`_scd2_pandas` for `scd2`); a pattern → its
 * class (every method). Pure, except reading and writing the store.
 */

const Pair = z.tuple([z.number(), z.number()]);
const RegionSchema = z.object({
  executed: z.array(z.number()),
  missing: z.array(z.number()),
  executedBranches: z.array(Pair),
  missingBranches: z.array(Pair),
});
const FileCoverageSchema = RegionSchema.extend({
  file: z.string(),
  statements: z.number(),
  branches: z.object({ covered: z.number(), total: z.number() }),
  percent: z.number(),
  functions: z.record(z.string(), RegionSchema),
  classes: z.record(z.string(), RegionSchema),
});
const MeasureSchema = z.object({
  /** Master's tree (`git rev-parse HEAD^{tree}`) when measured: the cache key. */
  treeHash: z.string(),
  measuredAt: z.string(),
  durationMs: z.number(),
  files: z.record(z.string(), FileCoverageSchema),
});
export const CoverageStoreSchema = z.object({
  /** What was measured (coverage's `source`, tree-relative). */
  source: z.array(z.string()),
  /** The test suite under coverage (`runCoverage`). */
  tests: MeasureSchema.extend({ pytestExit: z.number() }).optional(),
  /** The harness runs under coverage (`harness run --coverage`). */
  harnesses: MeasureSchema.extend({ harnesses: z.number().int() }).optional(),
});
export type CoverageStore = z.output<typeof CoverageStoreSchema>;

/** The store (`<root>/state/coverage.json`); undefined when absent or unreadable (measured again). */
export function readCoverageStore(file: string): CoverageStore | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const r = CoverageStoreSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

export function writeCoverageStore(file: string, store: CoverageStore): void {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(store)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** Tests and harness runs together (either alone when the other was not measured). */
export function combinedCoverage(store: CoverageStore): Record<string, FileCoverage> {
  return mergeCoverage(store.tests?.files ?? {}, store.harnesses?.files ?? {});
}

/** What the combined figure is made of, for people: "tests + harnesses", "tests only", … */
export function measuredBy(store: CoverageStore): string {
  if (store.tests && store.harnesses) return "tests + harnesses";
  if (store.tests) return "tests only; harnesses not measured";
  if (store.harnesses) return "harnesses only; tests not measured";
  return "nothing measured";
}

export interface CoverageRow {
  /** `odibi.transformers.scd`, or the transformer's / pattern's name. */
  name: string;
  kind: "module" | "transformer" | "pattern";
  file: string;
  /** The functions or class it counts (subjects only). */
  regions?: string[];
  statements: number;
  covered: number;
  branches: number;
  coveredBranches: number;
  percent: number;
  /** Statements never run, ascending. */
  missing: number[];
}

function rowOf(
  name: string,
  kind: CoverageRow["kind"],
  file: string,
  r: Region,
  regions?: string[],
): CoverageRow {
  const st = regionStats(r);
  const { statements, covered, branches, coveredBranches } = st;
  const percent = Math.round(st.percent * 10) / 10;
  return {
    name,
    kind,
    file,
    ...(regions ? { regions } : {}),
    ...{ statements, covered, branches, coveredBranches, percent },
    missing: r.missing,
  };
}

/** `odibi/transformers/scd.py` → `odibi.transformers.scd` (`__init__` → its package). */
export function moduleOf(file: string): string {
  return file
    .replace(/\.py$/, "")
    .replace(/\/__init__$/, "")
    .split("/")
    .join(".");
}

/** Per module (file), in file order. */
export function moduleCoverage(files: Record<string, FileCoverage>): CoverageRow[] {
  return Object.values(files)
    .filter((f) => f.statements > 0)
    .sort((a, b) => a.file.localeCompare(b.file))
    .map((f) => rowOf(moduleOf(f.file), "module", f.file, f));
}

/** Disjoint regions of one file as one. */
function joinRegions(rs: Region[]): Region {
  const num = (a: number, b: number) => a - b;
  const pair = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];
  return {
    executed: rs.flatMap((r) => r.executed).sort(num),
    missing: rs.flatMap((r) => r.missing).sort(num),
    executedBranches: rs.flatMap((r) => r.executedBranches).sort(pair),
    missingBranches: rs.flatMap((r) => r.missingBranches).sort(pair),
  };
}

/** The measured file of a module (`a/b.py` or `a/b/__init__.py`, under a `src/` layout too). */
function fileOfModule(module: string, files: Record<string, FileCoverage>): FileCoverage | undefined {
  const base = module.split(".").join("/");
  for (const f of [`${base}.py`, `${base}/__init__.py`, `src/${base}.py`, `src/${base}/__init__.py`])
    if (files[f]) return files[f];
  return undefined;
}

/** A transformer's functions in its file: itself, its nested functions, the private helpers named after it. */
export function transformerRegions(fn: string, functions: Record<string, Region>): string[] {
  const own = (k: string, stem: string) => k === stem || k.startsWith(`${stem}.`);
  return Object.keys(functions).filter(
    (k) => own(k, fn) || own(k, `_${fn}`) || k.startsWith(`_${fn}_`) || k.startsWith(`_${fn}.`),
  );
}

/**
 * Per transformer and pattern of the introspection: the coverage of the code that implements it (see the top of
 * this file). A subject whose module or code is not among the measured files is left out.
 */
export function subjectCoverage(
  intro: OdibiIntrospection,
  files: Record<string, FileCoverage>,
): CoverageRow[] {
  const rows: CoverageRow[] = [];
  for (const t of intro.transformers) {
    const f = fileOfModule(t.module, files);
    if (!f) continue;
    const names = transformerRegions(t.function ?? t.name, f.functions);
    if (names.length === 0) continue;
    rows.push(rowOf(t.name, "transformer", f.file, joinRegions(names.map((n) => f.functions[n]!)), names));
  }
  for (const p of intro.patterns) {
    const f = fileOfModule(p.module, files);
    const cls = f?.classes[p.class];
    if (f && cls) rows.push(rowOf(p.name, "pattern", f.file, cls, [p.class]));
  }
  return rows;
}

/** Least covered first (then the most statements left). */
export function leastCoveredFirst(rows: readonly CoverageRow[]): CoverageRow[] {
  return [...rows].sort((a, b) => a.percent - b.percent || b.missing.length - a.missing.length);
}

/** What `harness gaps`, status and the report show of a store. */
export function coverageSummary(
  store: CoverageStore,
  intro: OdibiIntrospection | undefined,
): {
  measuredBy: string;
  treeHash: string;
  measuredAt: string;
  totals: CoverageRun["totals"];
  modules: CoverageRow[];
  subjects: CoverageRow[];
} {
  const files = combinedCoverage(store);
  const last = [store.tests, store.harnesses].filter((m) => m !== undefined).at(-1);
  return {
    measuredBy: measuredBy(store),
    treeHash: store.tests?.treeHash ?? last?.treeHash ?? "",
    measuredAt: last?.measuredAt ?? "",
    totals: roundTotals(coverageTotals(files)),
    modules: moduleCoverage(files),
    subjects: intro ? subjectCoverage(intro, files) : [],
  };
}

function roundTotals(t: CoverageRun["totals"]): CoverageRun["totals"] {
  return { ...t, percent: Math.round(t.percent * 10) / 10 };
}

/** What a package's coverage measures in a tree: odibi's package folder (`odibi`, or `src/odibi`). */
export function packageSource(workdir: string, pkg = "odibi"): string[] {
  const root = path.relative(workdir, pythonImportRoot(workdir, pkg));
  return [root ? `${root.split(path.sep).join("/")}/${pkg}` : pkg];
}

/**
 * The test suite's coverage of `source` on the context's tree (Master's), from the store when it was measured on
 * the same tree (`treeHash`), else measured now (`runCoverage`: the whole suite, jailed) and stored.
 */
export async function testCoverage(
  ctx: GateContext,
  storeFile: string,
  treeHash: string,
  source: string[],
): Promise<CoverageStore> {
  const store = readCoverageStore(storeFile);
  const same = store && JSON.stringify(store.source) === JSON.stringify(source);
  if (same && store.tests?.treeHash === treeHash) return store;
  const run = await runCoverage(ctx, { source });
  const next: CoverageStore = {
    source,
    ...(same && store.harnesses ? { harnesses: store.harnesses } : {}),
    tests: {
      treeHash,
      measuredAt: new Date().toISOString(),
      durationMs: run.durationMs,
      pytestExit: run.pytestExit,
      files: run.files,
    },
  };
  writeCoverageStore(storeFile, next);
  return next;
}

/** Store the harness runs' coverage (`harness run --coverage`), keeping the tests' measure of the same source. */
export function storeHarnessCoverage(
  storeFile: string,
  treeHash: string,
  source: string[],
  measure: { files: Record<string, FileCoverage>; durationMs: number; harnesses: number },
): CoverageStore {
  const store = readCoverageStore(storeFile);
  const same = store && JSON.stringify(store.source) === JSON.stringify(source);
  const next: CoverageStore = {
    source,
    ...(same && store.tests ? { tests: store.tests } : {}),
    harnesses: { treeHash, measuredAt: new Date().toISOString(), ...measure },
  };
  writeCoverageStore(storeFile, next);
  return next;
}

/** The store's totals for `status` and the report (no per-file rows); null when nothing was measured. */
export function storedCoverage(storeFile: string): {
  measuredBy: string;
  treeHash: string;
  measuredAt: string;
  totals: CoverageRun["totals"];
} | null {
  const store = readCoverageStore(storeFile);
  if (!store || (!store.tests && !store.harnesses)) return null;
  const { measuredBy, treeHash, measuredAt, totals } = coverageSummary(store, undefined);
  return { measuredBy, treeHash, measuredAt, totals };
}

/** The campaign report's "Harness coverage": the package's percent and the subjects any test or harness ran. */
export function packageCoverage(
  storeFile: string,
  intro: OdibiIntrospection | undefined,
): { percent: number; measuredBy: string; subjects: { exercised: number; total: number } | null } | null {
  const store = readCoverageStore(storeFile);
  if (!store || (!store.tests && !store.harnesses)) return null;
  const s = coverageSummary(store, intro);
  const total = intro ? intro.transformers.length + intro.patterns.length : 0;
  return {
    percent: s.totals.percent,
    measuredBy: s.measuredBy,
    subjects: intro ? { exercised: s.subjects.filter((r) => r.covered > 0).length, total } : null,
  };
}
