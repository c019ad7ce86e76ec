import { writeFileSync } from "node:fs";
import path from "node:path";
import { Command } from "@commander-js/extra-typings";
import { COVERAGE_STORE, coverageSourceOf } from "../../campaign/coverage-work.js";
import { ExitCode } from "../../core/errors.js";
import type { Check } from "../../core/types.js";
import type { ImprovementEnvironment } from "../../environment/environment.js";
import { mkdirGuarded, removeInside } from "../../environment/fs-safe.js";
import { git } from "../../environment/git.js";
import { describeIsolation, resolveIsolation } from "../../exec/jail.js";
import { gateIsolation, makeGateContext } from "../../gates/context.js";
import type { GateContext } from "../../gates/gate.js";
import {
  type CoverageRow,
  coverageSummary,
  leastCoveredFirst,
  readCoverageStore,
  storeHarnessCoverage,
  testCoverage,
} from "../../harness/coverage.js";
import { allParamCandidates, HarnessGenerator } from "../../harness/generator.js";
import { chooseParams, introspectOdibi } from "../../harness/introspect.js";
import {
  mergeHarnessReports,
  readHarnessReport,
  runHarnesses,
  writeHarnessReport,
} from "../../harness/run.js";
import { renderHarnessSummary } from "../../harness/summary.js";
import { harnessDir, readHarnesses, readIntrospection, writeHarnesses } from "../../harness/write.js";
import { profileOf } from "../../profiles/index.js";
import { collectCoverage, lineRanges } from "../../profiles/python/coverage.js";
import type { CommandContext } from "../context.js";
import { withEnvironment } from "../context.js";
import type { Output } from "../output.js";

/**
 * `odibi-improve harness generate|gaps|validate|run`: harnesses for every transformer, pattern and edge case of
 * the odibi in Master (roadmap phase E2), under `<root>/golden/harness/`. Introspection, validation and runs use
 * Master's code in a throw-away clone, with the gates' venv and jail.
 */
async function withMaster<T>(
  env: ImprovementEnvironment,
  out: Output,
  fn: (ctx: GateContext, outputDir: string) => Promise<T>,
): Promise<T> {
  const isolation = await resolveIsolation(env.config.isolation, { llm: false });
  if (isolation.warning) out.warn(isolation.warning);
  else out.line(describeIsolation(isolation));
  const outputDir = path.join(env.layout.state, "harness-output");
  removeInside(env.layout.state, outputDir);
  mkdirGuarded(env.guard, outputDir);
  mkdirGuarded(env.guard, harnessDir(env.layout.golden));
  const clone = await env.createSandbox(`harness-${process.pid}`);
  try {
    const ctx = makeGateContext({
      workdir: clone.path,
      config: env.config,
      profile: profileOf(env.config.profile),
      goldenDir: harnessDir(env.layout.golden),
      outputDir,
      isolation: gateIsolation(env, isolation.mode),
      pythonPackages: env.layout.pythonPackages,
    });
    return await fn(ctx, outputDir);
  } finally {
    await env.destroySandbox(clone);
  }
}

function generateCommand(ctx: CommandContext) {
  return new Command("generate")
    .description("introspect Master's odibi and write a harness per transformer, pattern and edge case")
    .action(async () => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const { intro, harnesses, dir } = await withMaster(env, out, async (gctx, outputDir) => {
          const found = await introspectOdibi(gctx, outputDir);
          found.paramChoice = await chooseParams(gctx, outputDir, allParamCandidates(found));
          const hs = new HarnessGenerator(found).generateAll();
          return { intro: found, harnesses: hs, dir: writeHarnesses(env.layout.golden, found, hs) };
        });
        const gaps = new HarnessGenerator(intro).listCoverageGaps(harnesses);
        out.result(
          `odibi ${intro.odibiVersion}: ${intro.transformers.length} transformers, ${intro.patterns.length} patterns → ${harnesses.length} harnesses in ${dir} (${gaps.length} coverage gap(s); see README.md there)`,
          { odibiVersion: intro.odibiVersion, dir, harnesses: harnesses.map((h) => h.name), gaps },
        );
      });
    });
}

/** Rows for people and for `--json`: the uncovered lines as ranges rather than every line. */
function rowsOut(rows: readonly CoverageRow[]) {
  return rows.map(({ missing, ...r }) => ({ ...r, uncovered: lineRanges(missing) }));
}

function coverageLines(c: ReturnType<typeof coverageSummary>, limit: number): string[] {
  const t = c.totals;
  const row = (r: CoverageRow) =>
    `  ${r.percent.toFixed(1).padStart(5)}%  ${r.kind === "module" ? r.file : `${r.kind} ${r.name} (${r.file})`}  ${r.covered}/${r.statements} lines, ${r.coveredBranches}/${r.branches} branches`;
  const least = (rows: CoverageRow[]) => leastCoveredFirst(rows).slice(0, limit).map(row);
  return [
    `coverage (${c.measuredBy}; Master tree ${c.treeHash.slice(0, 10)}, ${c.measuredAt}): ${t.percent}% — ${t.covered}/${t.statements} lines, ${t.coveredBranches}/${t.branches} branches`,
    `least covered modules (${c.modules.length}):`,
    ...least(c.modules),
    ...(c.subjects.length
      ? [`least covered transformers and patterns (${c.subjects.length}):`, ...least(c.subjects)]
      : []),
  ];
}

function gapsCommand(ctx: CommandContext) {
  return new Command("gaps")
    .description(
      "what the harnesses leave uncovered, the subjects whose harness failed in the last run, and the line and branch coverage of Master's package by its tests and the harnesses",
    )
    .option(
      "--coverage",
      "measure the test suite's coverage of Master's package now (cached by Master's tree)",
    )
    .option("--top <n>", "rows of each coverage table shown (all are in --json)", "15")
    .action(async (opts) => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const intro = readIntrospection(env.layout.golden);
        const storeFile = path.join(env.layout.state, COVERAGE_STORE);
        if (!intro && !opts.coverage && !readCoverageStore(storeFile))
          throw ctx.usage(
            "no harnesses yet, and no coverage measured",
            "Run `odibi-improve harness generate` (odibi), or `harness gaps --coverage`.",
          );
        if (opts.coverage) {
          const tree = (await git(env.layout.master, ["rev-parse", "HEAD^{tree}"])).trim();
          await withMaster(env, out, (gctx) => testCoverage(gctx, storeFile, tree, coverageSourceOf(gctx)));
        }
        const gaps = intro
          ? new HarnessGenerator(intro).listCoverageGaps(readHarnesses(env.layout.golden))
          : [];
        const report = readHarnessReport(env.layout.golden);
        const failing = report?.harnesses.filter((h) => !h.passed) ?? [];
        const store = readCoverageStore(storeFile);
        const cov = store ? coverageSummary(store, intro) : null;
        const lines = [
          ...(intro ? [`odibi ${intro.odibiVersion}: ${gaps.length} coverage gap(s)`] : []),
          ...gaps.map((g) => `  ${g.kind} ${g.subject}: ${g.reason}`),
          ...(!intro
            ? []
            : report
              ? [
                  `last run (${report.ranAt}): ${report.harnesses.length - failing.length}/${report.harnesses.length} harnesses pass`,
                ]
              : ["not run yet (`odibi-improve harness run`)"]),
          ...failing.map((h) => `  failing: ${h.name} (${h.covers.join(", ")})`),
          ...(cov
            ? coverageLines(cov, Number(opts.top) || 15)
            : [
                "line and branch coverage: not measured (`harness gaps --coverage`, `harness run --coverage`)",
              ]),
        ];
        const coverage = cov
          ? { ...cov, modules: rowsOut(cov.modules), subjects: rowsOut(cov.subjects) }
          : null;
        out.result(lines.join("\n"), { odibiVersion: intro?.odibiVersion ?? null, gaps, failing, coverage });
      });
    });
}

function runLikeCommand(ctx: CommandContext, name: "validate" | "run") {
  return new Command(name)
    .description(
      name === "validate"
        ? "`odibi validate` on every harness config (Master's odibi, jailed)"
        : "validate and run every harness through the golden gate, check its expected output, list the findings",
    )
    .option("--only <names>", "comma-separated harness names")
    .option("--coverage", "measure the line and branch coverage of odibi by the harness runs (run only)")
    .action(async (opts) => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const intro = readIntrospection(env.layout.golden);
        if (!intro) throw ctx.usage("no harnesses yet", "Run `odibi-improve harness generate` first.");
        const only = opts.only
          ?.split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        const runOpts = {
          ...(only ? { only } : {}),
          validateOnly: name === "validate",
          onHarness: (h: string, checks: Check[]) =>
            out.line(`  ${h}: ${checks.some((c) => c.status === "fail") ? "FAIL" : "ok"}`),
        };
        const measure = name === "run" && opts.coverage === true;
        const report = await withMaster(env, out, async (gctx) => {
          if (!measure) return runHarnesses(gctx, env.layout.golden, intro.odibiVersion, runOpts);
          const started = performance.now();
          const source = coverageSourceOf(gctx);
          const { result, coverage } = await collectCoverage(gctx, { source }, (covEnv) =>
            runHarnesses({ ...gctx, env: covEnv }, env.layout.golden, intro.odibiVersion, runOpts),
          );
          const tree = (await git(env.layout.master, ["rev-parse", "HEAD^{tree}"])).trim();
          const stored = storeHarnessCoverage(path.join(env.layout.state, COVERAGE_STORE), tree, source, {
            files: coverage.files,
            durationMs: Math.round(performance.now() - started),
            harnesses: result.harnesses.length,
          });
          out.line(coverageLines(coverageSummary(stored, intro), 0)[0]!);
          return result;
        });
        if (name === "run") {
          // A run of some harnesses updates theirs in the last report; a full run replaces it.
          const merged = only ? mergeHarnessReports(readHarnessReport(env.layout.golden), report) : report;
          writeHarnessReport(env.layout.golden, merged);
          const gaps = new HarnessGenerator(intro).listCoverageGaps(readHarnesses(env.layout.golden));
          const summary = path.join(harnessDir(env.layout.golden), "SUMMARY.md");
          writeFileSync(summary, renderHarnessSummary(merged, intro, gaps));
          out.line(`summary: ${summary}`);
        }
        const passed = report.harnesses.filter((h) => h.passed).length;
        const lines = [
          `${passed}/${report.harnesses.length} harnesses pass; ${report.findings.length} finding(s)`,
          ...report.findings.map(
            (f) => `  ${f.checkId}: ${f.errorType}: ${f.message.split("\n")[0]!.slice(0, 200)}`,
          ),
        ];
        const { checks: _checks, ...data } = report;
        out.result(lines.join("\n"), data, report.findings.length ? ExitCode.checksFailed : ExitCode.ok);
      });
    });
}

export function harnessCommand(ctx: CommandContext) {
  return new Command("harness")
    .description(
      "harnesses for every odibi transformer, pattern and edge case (generate | gaps | validate | run)",
    )
    .addCommand(generateCommand(ctx))
    .addCommand(gapsCommand(ctx))
    .addCommand(runLikeCommand(ctx, "validate"))
    .addCommand(runLikeCommand(ctx, "run"));
}
