import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { Command } from "@commander-js/extra-typings";
import { analyzeStories, environmentStorySources, type StorySource } from "../../analysis/analyze.js";
import { writeUsageAnalysis } from "../../analysis/report.js";
import type { UsageAnalysis } from "../../analysis/usage-types.js";
import { UsageError } from "../../core/errors.js";
import { layoutOf } from "../../environment/layout.js";
import type { CommandContext } from "../context.js";
import { resolveRoot } from "../context.js";

const collect = (value: string, previous: string[]) => [...previous, value];

function summary(a: UsageAnalysis, md: string): string {
  const top = a.failures
    .slice(0, 5)
    .map((f) => `  ${f.count}× ${f.errorType}: ${f.message.slice(0, 100)}`)
    .join("\n");
  return [
    `${a.stories} stories (${a.nodes} nodes, ${a.failedNodes} failed) in ${a.durationMs} ms; ${a.skipped.length} malformed story file(s) skipped`,
    ...a.skipped.slice(0, 10).map((s) => `  skipped ${s.file}: ${s.problem.split("\n")[0]}`),
    `${a.failures.length} failure cluster(s), ${a.patterns.length} common pattern(s), ${a.suggestions.length} suggestion(s)`,
    ...(top ? [top] : []),
    `Report: ${md}`,
  ].join("\n");
}

/**
 * `odibi-improve analyze [--stories DIR]…`: the usage analysis (roadmap E5) over the environment's stories (golden
 * runs of every cycle, the last harness run) and the user's own story folders; writes `reports/usage_analysis.md`
 * and `.json`. Without an environment root, `--stories` and `--out` are enough.
 */
export function analyzeCommand(ctx: CommandContext) {
  return new Command("analyze")
    .description(
      "usage analysis of odibi stories: common patterns, failure clusters, transformer suggestions",
    )
    .option("--stories <dir>", "a folder of your own odibi stories (repeatable)", collect, [] as string[])
    .option("--out <dir>", "where to write usage_analysis.md/.json (default: <root>/reports)")
    .action(async (opts) => {
      const out = ctx.output();
      for (const dir of opts.stories)
        if (!existsSync(dir) || !statSync(dir).isDirectory())
          throw new UsageError(
            `--stories ${dir}: no such folder`,
            "Give the folder odibi writes stories to (the config's story: path).",
          );
      const root = ctx.root() ?? process.env.ODIBI_IMPROVE_ROOT;
      if (!root && !(opts.stories.length && opts.out))
        throw new UsageError(
          "analyze needs an environment root, or --stories with --out",
          "Pass --root <folder> (or set ODIBI_IMPROVE_ROOT), or --stories DIR --out DIR.",
        );
      const layout = root ? layoutOf(resolveRoot(root)) : undefined;
      if (layout && !existsSync(layout.config))
        throw new UsageError(
          `${layout.root} is not an odibi-improve environment (no config.yaml)`,
          "Run `odibi-improve init` first, or pass --stories DIR --out DIR.",
        );
      const sources: StorySource[] = [
        ...(layout ? environmentStorySources(layout.root) : []),
        ...opts.stories.map((d) => ({ dir: path.resolve(d) })),
      ];
      const analysis = analyzeStories(sources);
      const reports = writeUsageAnalysis(opts.out ? path.resolve(opts.out) : layout!.reports, analysis);
      out.result(summary(analysis, reports.md), { report: reports.md, json: reports.json, analysis });
    });
}
