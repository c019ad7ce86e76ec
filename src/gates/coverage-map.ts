import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parsePatch } from "diff";
import { errorMessage } from "../core/errors.js";
import { writeFileAtomic } from "../environment/fs-safe.js";
import type { SacredGuard } from "../environment/sacred.js";
import { readRegularFile } from "../exec/read-regular-file.js";
import { describeEnd, splitCommandLine } from "../exec/run-process.js";
import type { CoverageMap, GateContext } from "./gate.js";

/**
 * Master's per-test coverage map, for the cascade's targeted step: which tests ran each line of the tree. Built by
 * coverage.py with one dynamic context per test: a small pytest plugin (`PLUGIN`) switches coverage's context to
 * the test's node id around each test (`Coverage.switch_context`, what pytest-cov's `--cov-context=test` does),
 * so the contexts are the ids pytest selects by. pytest-testmon was not chosen: it keeps its database in the
 * tree (the gate cache hashes the tree) and decides the selection itself. A line run only outside any test
 * (module level, at import) maps to no test: a change there falls back to the import heuristic.
 */
export type { CoverageMap };

const PLUGIN = `import coverage, pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    cov = coverage.Coverage.current()
    if cov is not None:
        cov.switch_context(item.nodeid)
    yield
    if cov is not None:
        cov.switch_context("")
`;

/** argv: data file, tree root, output JSON. Lines run only outside tests get an empty set. */
const DUMP = `import json, os, sys
from coverage import CoverageData
data = CoverageData(basename=sys.argv[1])
data.read()
root = os.path.realpath(sys.argv[2])
tests, files = {}, {}
for f in data.measured_files():
    rf = os.path.realpath(f)
    if not rf.startswith(root + os.sep):
        continue
    sets, lines = {}, {}
    for ln, ctxs in (data.contexts_by_lineno(f) or {}).items():
        key = tuple(sorted({tests.setdefault(c, len(tests)) for c in ctxs if c}))
        lines[str(ln)] = sets.setdefault(key, len(sets))
    if lines:
        files[os.path.relpath(rf, root).replace(os.sep, "/")] = {"sets": [list(k) for k in sets], "lines": lines}
with open(sys.argv[3], "w") as out:
    json.dump({"tests": sorted(tests, key=tests.get), "files": files}, out)
`;

/** `python -m pytest …` → the same under `python -m coverage run`; undefined for another command. */
function coverageArgv(command: string, rcfile: string): string[] | undefined {
  const argv = splitCommandLine(command);
  const i = argv.findIndex((a, k) => a === "pytest" && argv[k - 1] === "-m");
  if (i < 2) return undefined;
  return [...argv.slice(0, i - 1), "-m", "coverage", "run", `--rcfile=${rcfile}`, "-m", ...argv.slice(i)];
}

/** Build the map of the tree `ctx.workdir` (Master's) with its test command, in the gates' jail. */
export async function buildCoverageMap(ctx: GateContext, treeHash: string): Promise<CoverageMap | string> {
  const command = ctx.commands.test;
  const work = path.join(ctx.outputDir, "coverage-map");
  mkdirSync(work, { recursive: true });
  const rcfile = path.join(work, "coveragerc");
  const argv = command ? coverageArgv(command, rcfile) : undefined;
  if (!command || !argv) return "the test command is not `python -m pytest …`";
  const dataFile = path.join(work, "coverage-data");
  writeFileSync(rcfile, `[run]\ndata_file = ${dataFile}\nsource = ${ctx.workdir}\n`);
  writeFileSync(path.join(work, "oi_test_context.py"), PLUGIN);
  const started = performance.now();
  const env = {
    ...ctx.env,
    PYTHONPATH: [work, ctx.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
  };
  const opts = { cwd: ctx.workdir, env, timeoutMs: ctx.timeoutMs, signal: ctx.signal };
  const extra = ["-p", "oi_test_context", "-p", "no:cacheprovider", "-q", "--continue-on-collection-errors"];
  const r = await ctx.workspace.exec(argv[0]!, [...argv.slice(1), ...extra], opts);
  if (/No module named coverage\b/.test(r.stderr))
    return "coverage.py is not installed where the tests run (run `odibi-improve setup`)";
  if (r.exitCode !== 0 && r.exitCode !== 1)
    return `the coverage run did not complete (${describeEnd(r)}): ${r.stderr.trim().split("\n").slice(-3).join(" ")}`;
  const out = path.join(work, "map.json");
  const d = await ctx.workspace.exec(argv[0]!, ["-c", DUMP, dataFile, ctx.workdir, out], opts);
  if (d.exitCode !== 0) return `coverage data could not be read (${describeEnd(d)}): ${d.stderr.trim()}`;
  const read = readRegularFile(out, 512 * 1024 * 1024);
  // The coverage data of a large suite is large: only the map is kept.
  rmSync(work, { recursive: true, force: true });
  if (read.kind !== "text") return `the coverage map was not written (${read.kind})`;
  try {
    const raw = JSON.parse(read.text) as Pick<CoverageMap, "tests" | "files">;
    return { treeHash, command, builtMs: Math.round(performance.now() - started), ...raw };
  } catch (e) {
    return `the coverage map could not be read: ${errorMessage(e)}`;
  }
}

/**
 * Master's map for `treeHash` from `dir`, built and stored when missing. A map that cannot be built gives the
 * reason instead (the targeted step then selects by test files, and says why).
 */
export async function coverageMapFor(
  ctx: GateContext,
  opts: { dir: string; guard: SacredGuard; treeHash: string },
): Promise<CoverageMap | { missing: string }> {
  const file = path.join(opts.dir, `coverage-${opts.treeHash}.json`);
  if (existsSync(file)) {
    try {
      const map = JSON.parse(readFileSync(file, "utf8")) as CoverageMap;
      if (map.command === ctx.commands.test) return map;
    } catch {
      // A damaged map is rebuilt.
    }
  }
  ctx.log?.(`[test plan] building the per-test coverage map of Master (tree ${opts.treeHash.slice(0, 10)})`);
  const built = await buildCoverageMap(ctx, opts.treeHash);
  if (typeof built === "string") return { missing: built };
  writeFileAtomic(opts.guard, file, JSON.stringify(built));
  // Only the newest Master's map is of use: older ones go.
  for (const f of readdirSync(opts.dir))
    if (/^coverage-.*\.json$/.test(f) && f !== path.basename(file))
      rmSync(path.join(opts.dir, f), { force: true });
  ctx.log?.(
    `[test plan] coverage map: ${built.tests.length} tests over ${Object.keys(built.files).length} files in ${(built.builtMs / 1000).toFixed(1)}s`,
  );
  return built;
}

export interface CoverageSelection {
  /** Tests that ran a changed line of Master. */
  tests: string[];
  /** Changed source files the map cannot speak for (new, or changed at module level): select by heuristic. */
  unmapped: string[];
}

/** Master's line numbers a file's hunks change: removed lines, and both neighbours of a pure insertion. */
function changedOldLines(hunks: ReturnType<typeof parsePatch>[number]["hunks"]): Set<number> {
  const out = new Set<number>();
  for (const h of hunks) {
    let old = h.oldStart;
    // Lines added right after removed ones replace them: the removed lines already stand for the change.
    let replacing = false;
    for (const line of h.lines) {
      if (line.startsWith("-")) {
        out.add(old++);
        replacing = true;
      } else if (line.startsWith("+")) {
        if (!replacing) {
          out.add(old - 1);
          out.add(old);
        }
      } else if (line.startsWith(" ")) {
        old++;
        replacing = false;
      }
    }
  }
  return out;
}

const stripPrefix = (name: string | undefined) => name?.replace(/^[ab]\//, "");

/** The tests whose covered lines the candidate's diff changes; test files themselves are left to the caller. */
export function selectByCoverage(
  map: CoverageMap,
  diff: string,
  isTest: (file: string) => boolean,
): CoverageSelection {
  const tests = new Set<number>();
  const unmapped = new Set<string>();
  for (const patch of parsePatch(diff)) {
    const oldName = stripPrefix(patch.oldFileName);
    const name = oldName && oldName !== "/dev/null" ? oldName : stripPrefix(patch.newFileName);
    if (!name || name === "/dev/null" || !name.endsWith(".py") || isTest(name)) continue;
    const entry = oldName === name ? map.files[name] : undefined;
    if (!entry) {
      unmapped.add(stripPrefix(patch.newFileName) ?? name);
      continue;
    }
    for (const ln of changedOldLines(patch.hunks)) {
      const set = entry.lines[String(ln)];
      if (set === undefined) continue;
      const ids = entry.sets[set] ?? [];
      if (ids.length === 0) unmapped.add(name);
      for (const i of ids) tests.add(i);
    }
  }
  return { tests: [...tests].map((i) => map.tests[i]!).filter(Boolean), unmapped: [...unmapped] };
}
