/**
 * `npm run bench -- gates`: gate time per cycle, the naive way (Master and candidate, every gate, every check,
 * every cycle) against the cascade + tree-hash cache (Master cached after the first cycle, candidate fail-fast with
 * targeted tests first), on the same simulated cycles, in one run. Verdicts must be identical. Also prints the share
 * of cycle time spent outside the gate commands (tree hashing, copying the candidate, parsing, deciding).
 *
 * Targets: each is one entry in TARGETS (a Master repository, a config, the candidate edits of a few cycles and,
 * optionally, the gates): the python fixture, and odibi itself with its golden projects. `odibi-tests`
 * (bench/gates/odibi-tests.ts) is odibi's own pytest suite: the tests gate serial and with xdist against the
 * repository's own command, and the targeted step's selection by coverage map against the touched test files.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Config, ConfigSchema } from "../src/config/schema.js";
import type { GateResult, Task } from "../src/core/types.js";
import { git } from "../src/environment/git.js";
import { SacredGuard } from "../src/environment/sacred.js";
import { type CommandRunner, runProcess } from "../src/exec/run-process.js";
import { GateCache } from "../src/gates/cache.js";
import { makeGateContext } from "../src/gates/context.js";
import type { Gate } from "../src/gates/gate.js";
import { lintGate } from "../src/gates/lint-gate.js";
import { checkGates } from "../src/gates/pipeline.js";
import { decideVerdict } from "../src/gates/verdict.js";
import { profileOf } from "../src/profiles/index.js";
import { goldenGate, installGoldenProjects, validateGate } from "../src/profiles/odibi/index.js";
import { ensureOdibiSource, ensurePythonEnv, ODIBI_VERSION } from "../src/pyenv/python-env.js";
import { PYTHON_FIXTURE } from "../tests/fixtures-python.js";
import { benchOdibiTests } from "./gates/odibi-tests.js";

interface Cycle {
  name: string;
  /** Files the candidate writes (relative path → content). */
  edits: Record<string, string>;
  target?: Task;
}

interface TargetSetup {
  master: string;
  config: Config;
  venv: string;
  goldenDir: string;
  cycles: Cycle[];
  /** Gates to run (default: the registry's for the profile). */
  gates?: Gate[];
}

interface BenchTarget {
  name: string;
  /** Create Master in `dir`; return its config and cycles. */
  setup(dir: string): Promise<TargetSetup>;
}

async function commitRepo(dir: string, files: Record<string, string>, copyFrom?: string): Promise<string> {
  if (copyFrom) cpSync(copyFrom, dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
  await git(dir, ["init", "-q", "-b", "main"]);
  await git(dir, ["add", "-A"]);
  await git(dir, ["commit", "-q", "-m", "master"]);
  return dir;
}

const CALC = PYTHON_FIXTURE["pkg/calc.py"]!;

const pythonFixture: BenchTarget = {
  name: "python fixture (ruff + pytest)",
  async setup(dir) {
    const venv = (await ensurePythonEnv()).venv;
    const master = await commitRepo(path.join(dir, "master"), PYTHON_FIXTURE);
    const config = ConfigSchema.parse({
      source: { sacred_repo: path.join(dir, "sacred") },
      profile: "python",
    });
    const divideTarget: Task = {
      kind: "failure",
      target: "tests/test_calc.py::TestDivide::test_divide_zero",
      title: "division by zero",
      signature: "bench",
      gate: "tests",
    };
    const cycles: Cycle[] = [
      {
        name: "fix the target",
        edits: { "pkg/calc.py": CALC.replace("return a / b", "return 0 if b == 0 else a / b") },
        target: divideTarget,
      },
      {
        name: "new lint error",
        edits: { "pkg/text.py": `import sys\n\n\n${PYTHON_FIXTURE["pkg/text.py"]}` },
      },
      { name: "breaks a test", edits: { "pkg/text.py": "def shout(s):\n    return s.lower()\n" } },
      {
        name: "wrong fix",
        edits: { "pkg/calc.py": CALC.replace("return a + b", "return a - b") },
        target: divideTarget,
      },
      {
        name: "harmless edit",
        edits: { "pkg/text.py": `${PYTHON_FIXTURE["pkg/text.py"]}\n\nVERSION = 2\n` },
      },
    ];
    return {
      master,
      config,
      venv,
      goldenDir: path.join(dir, "golden"),
      cycles,
    };
  },
};

/** The bug of the odibi end-to-end test: the pandas SCD2 transformer reads a missing attribute. */
const SCD = "odibi/transformers/scd.py";
const SCD_ANCHOR = "    logger = logging.getLogger(__name__)\n\n    # Try using DuckDB";

const odibi: BenchTarget = {
  name: `odibi ${ODIBI_VERSION} (ruff + validate + golden projects hello, scd2, star-schema)`,
  async setup(dir) {
    const venv = (await ensurePythonEnv({ odibi: true })).venv;
    const master = await commitRepo(path.join(dir, "master"), {}, await ensureOdibiSource());
    const goldenDir = path.join(dir, "golden");
    await installGoldenProjects(goldenDir, venv);
    // odibi's own pytest suite is not part of this bench: the golden projects are what it measures.
    const config = ConfigSchema.parse({
      source: { sacred_repo: path.join(dir, "sacred") },
      profile: "odibi",
      gates: { require_pytest_pass: false },
    });
    const scd = readFileSync(path.join(master, SCD), "utf8");
    if (!scd.includes(SCD_ANCHOR)) throw new Error(`${SCD} changed: update the bench's bug anchor`);
    const cycles: Cycle[] = [
      { name: "harmless edit", edits: { [SCD]: `${scd}\n# reviewed\n` } },
      {
        name: "transformer bug",
        edits: {
          [SCD]: scd.replace(
            SCD_ANCHOR,
            "    logger = logging.getLogger(__name__)\n    source_df = source_df.nonexistent_column_typo\n\n    # Try using DuckDB",
          ),
        },
      },
    ];
    return { master, config, venv, goldenDir, cycles, gates: [lintGate, validateGate, goldenGate] };
  },
};

/** One entry per target; `BENCH_GATES_TARGETS=python` (or `odibi`) runs one. */
export const TARGETS: Record<string, BenchTarget> = { python: pythonFixture, odibi };

interface Timing {
  wallMs: number;
  commandMs: number;
  verdicts: string[];
}

async function runCycles(t: TargetSetup, work: string, smart: boolean): Promise<Timing> {
  let commandMs = 0;
  const run: CommandRunner = async (file, args, opts) => {
    const r = await runProcess(file, args, opts);
    commandMs += r.durationMs;
    return r;
  };
  const cache = smart
    ? new GateCache(path.join(work, "gate-cache"), new SacredGuard(path.join(work, "no-sacred")))
    : undefined;
  const ctx = (workdir: string, name: string) =>
    makeGateContext({
      workdir,
      config: t.config,
      profile: profileOf(t.config.profile),
      venv: t.venv,
      goldenDir: t.goldenDir,
      outputDir: path.join(work, "out", name),
      run,
    });
  const verdicts: string[] = [];
  const started = performance.now();
  for (const [i, cycle] of t.cycles.entries()) {
    // The baseline: naive re-checks Master every cycle; smart gets it from the cache after the first cycle.
    const baseline: GateResult = await checkGates(ctx(t.master, "master"), { cache, gates: t.gates });
    const cand = path.join(work, `cycle_${i}`);
    cpSync(t.master, cand, { recursive: true });
    for (const [f, c] of Object.entries(cycle.edits)) writeFileSync(path.join(cand, f), c);
    const changedFiles = Object.keys(cycle.edits);
    const candidate = smart
      ? await checkGates(ctx(cand, `cycle_${i}`), {
          cache,
          baseline,
          failFast: true,
          changedFiles,
          target: cycle.target,
        })
      : await checkGates(ctx(cand, `cycle_${i}`));
    const v = decideVerdict(baseline, candidate, {
      gates: profileOf(t.config.profile).gates,
      target: cycle.target,
    });
    verdicts.push(`${cycle.name}: ${v.promotable ? "promoted" : "rejected"}`);
    rmSync(cand, { recursive: true, force: true });
  }
  return { wallMs: performance.now() - started, commandMs, verdicts };
}

export async function run(): Promise<void> {
  const wanted = process.env.BENCH_GATES_TARGETS?.split(",") ?? [...Object.keys(TARGETS), "odibi-tests"];
  for (const name of wanted) {
    if (name === "odibi-tests") {
      await benchOdibiTests();
      continue;
    }
    const target = TARGETS[name];
    if (!target)
      throw new Error(
        `no gates bench target "${name}"; known: ${[...Object.keys(TARGETS), "odibi-tests"].join(", ")}`,
      );
    const dir = mkdtempSync(path.join(os.tmpdir(), "oi-bench-gates-"));
    try {
      const t = await target.setup(dir);
      const n = t.cycles.length;
      console.log(`\nbench gates — ${target.name}, ${n} cycles`);
      const naive = await runCycles(t, path.join(dir, "naive"), false);
      const smart = await runCycles(t, path.join(dir, "smart"), true);
      const same = naive.verdicts.every((v, i) => v === smart.verdicts[i]);
      const row = (label: string, x: Timing) =>
        `  ${label.padEnd(16)} ${(x.wallMs / n / 1000).toFixed(2).padStart(6)} s/cycle  gate commands ${(x.commandMs / n / 1000).toFixed(2).padStart(6)} s/cycle  outside commands ${(((x.wallMs - x.commandMs) / x.wallMs) * 100).toFixed(1).padStart(5)}%`;
      console.log(row("naive", naive));
      console.log(row("cascade + cache", smart));
      console.log(
        `  ratio naive / cascade+cache: ${(naive.wallMs / smart.wallMs).toFixed(2)}x wall, ${(naive.commandMs / smart.commandMs).toFixed(2)}x gate commands`,
      );
      console.log(`  verdicts ${same ? "identical" : "DIFFER"}: ${smart.verdicts.join("; ")}`);
      if (!same) {
        console.log(`  naive verdicts: ${naive.verdicts.join("; ")}`);
        process.exitCode = 1;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
