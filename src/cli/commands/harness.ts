import { writeFileSync } from "node:fs";
import path from "node:path";
import { Command } from "@commander-js/extra-typings";
import { ExitCode } from "../../core/errors.js";
import type { ImprovementEnvironment } from "../../environment/environment.js";
import { mkdirGuarded, removeInside } from "../../environment/fs-safe.js";
import { describeIsolation, resolveIsolation } from "../../exec/jail.js";
import { gateIsolation, makeGateContext } from "../../gates/context.js";
import type { GateContext } from "../../gates/gate.js";
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

function gapsCommand(ctx: CommandContext) {
  return new Command("gaps")
    .description("what the harnesses leave uncovered, and the subjects whose harness failed in the last run")
    .action(async () => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const intro = readIntrospection(env.layout.golden);
        if (!intro) throw ctx.usage("no harnesses yet", "Run `odibi-improve harness generate` first.");
        const gaps = new HarnessGenerator(intro).listCoverageGaps(readHarnesses(env.layout.golden));
        const report = readHarnessReport(env.layout.golden);
        const failing = report?.harnesses.filter((h) => !h.passed) ?? [];
        const lines = [
          `odibi ${intro.odibiVersion}: ${gaps.length} coverage gap(s)`,
          ...gaps.map((g) => `  ${g.kind} ${g.subject}: ${g.reason}`),
          report
            ? `last run (${report.ranAt}): ${report.harnesses.length - failing.length}/${report.harnesses.length} harnesses pass`
            : "not run yet (`odibi-improve harness run`)",
          ...failing.map((h) => `  failing: ${h.name} (${h.covers.join(", ")})`),
        ];
        out.result(lines.join("\n"), { odibiVersion: intro.odibiVersion, gaps, failing });
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
    .action(async (opts) => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const intro = readIntrospection(env.layout.golden);
        if (!intro) throw ctx.usage("no harnesses yet", "Run `odibi-improve harness generate` first.");
        const only = opts.only
          ?.split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        const report = await withMaster(env, out, (gctx) =>
          runHarnesses(gctx, env.layout.golden, intro.odibiVersion, {
            ...(only ? { only } : {}),
            validateOnly: name === "validate",
            onHarness: (h, checks) =>
              out.line(`  ${h}: ${checks.some((c) => c.status === "fail") ? "FAIL" : "ok"}`),
          }),
        );
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
