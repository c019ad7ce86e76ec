import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { needsInstall } from "./normalize.js";
import { type UsageAnalysis, UsageAnalysisSchema } from "./usage-types.js";

/** `reports/usage_analysis.md` (for people) and `reports/usage_analysis.json` (the campaign and the dashboard). */
export const USAGE_REPORT = "usage_analysis";

export function usageReportPaths(reportsDir: string): { md: string; json: string } {
  return {
    md: path.join(reportsDir, `${USAGE_REPORT}.md`),
    json: path.join(reportsDir, `${USAGE_REPORT}.json`),
  };
}

export function writeUsageAnalysis(reportsDir: string, a: UsageAnalysis): { md: string; json: string } {
  const paths = usageReportPaths(reportsDir);
  mkdirSync(reportsDir, { recursive: true });
  writeFileSync(paths.json, `${JSON.stringify(a, null, 2)}\n`);
  writeFileSync(paths.md, renderUsageMarkdown(a));
  return paths;
}

/** The last analysis written under a reports folder; undefined when there is none or it is not readable. */
export function readUsageAnalysis(reportsDir: string): UsageAnalysis | undefined {
  const file = usageReportPaths(reportsDir).json;
  if (!existsSync(file)) return undefined;
  try {
    const parsed = UsageAnalysisSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A campaign promoted the fix of a failure cluster or the transformer a suggestion asked for: it leaves the last
 * analysis (JSON and markdown), so the next cycle does not pick it again; the next `analyze` sees what is left.
 */
export function resolveUsageItem(reportsDir: string, signature: string): void {
  const a = readUsageAnalysis(reportsDir);
  if (!a) return;
  writeUsageAnalysis(reportsDir, {
    ...a,
    failures: a.failures.filter((f) => f.signature !== signature),
    suggestions: a.suggestions.filter((s) => s.signature !== signature),
  });
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const list = (xs: string[], max = 5) =>
  xs.length > max ? `${xs.slice(0, max).join(", ")} (+${xs.length - max})` : xs.join(", ");

/** The first traceback of a chain (the root cause), without the ones raised while handling it (odibi's wrapper). */
export function rootCause(traceback: string): string {
  return traceback
    .split(/\n\s*\n(?:During handling of the above exception|The above exception was the direct cause)/)[0]!
    .trimEnd();
}

function failuresSection(a: UsageAnalysis): string[] {
  if (a.failures.length === 0) return ["No node failed."];
  const out: string[] = [];
  for (const [i, f] of a.failures.entries()) {
    out.push(`### ${i + 1}. ${f.errorType}: ${f.message}`, "");
    out.push(
      `- ${f.count} failed node(s) in ${f.stories} run(s); first seen ${f.firstSeen ?? "?"}, last seen ${f.lastSeen ?? "?"}`,
    );
    out.push(`- nodes: ${list(f.nodes)}`);
    if (f.transformers.length) out.push(`- transformers: ${list(f.transformers)}`);
    if (needsInstall(f)) out.push("- needs a package installed, not a code change: not campaign work");
    out.push(
      `- e.g. \`${f.example.pipeline}/${f.example.node}\` in ${f.example.file}`,
      `- signature: \`${f.signature}\``,
    );
    if (f.traceback) out.push("", "```text", rootCause(f.traceback).split("\n").slice(-15).join("\n"), "```");
    out.push("");
  }
  return out;
}

/** The report as markdown: summary, failure clusters, patterns, suggestions, skipped stories. */
export function renderUsageMarkdown(a: UsageAnalysis): string {
  const ops = Object.entries(a.operations).slice(0, 15);
  const out = [
    "# Usage analysis",
    "",
    `${a.stories} stories (${a.nodes} nodes, ${a.failedNodes} failed) from ${a.sources.join(", ")}; ${a.skipped.length} malformed story file(s) skipped; ${a.otherFiles} other JSON file(s). ${a.generatedAt}, ${a.durationMs} ms.`,
    "",
    "## Failure clusters (most frequent first)",
    "",
    ...failuresSection(a),
    "## Common patterns",
    "",
    ...(a.patterns.length
      ? ["| sequence | runs | pipelines |", "|---|---|---|"].concat(
          a.patterns
            .slice(0, 30)
            .map((p) => `| ${cell(p.sequence.join(" → "))} | ${p.count} | ${cell(list(p.pipelines))} |`),
        )
      : ["No operation sequence recurs."]),
    "",
    "## Suggestions",
    "",
    ...(a.suggestions.length
      ? a.suggestions.flatMap((s) => [
          `- **${s.title}** (${s.kind}, \`${s.signature}\`)`,
          ...s.evidence.map((e) => `  - ${e}`),
        ])
      : ["None."]),
    "",
    "## Operations",
    "",
    ops.length ? ops.map(([op, n]) => `- ${op}: ${n}`).join("\n") : "None.",
    "",
  ];
  if (a.skipped.length)
    out.push(
      "## Skipped (malformed) stories",
      "",
      ...a.skipped.map((s) => `- ${s.file}: ${cell(s.problem).slice(0, 300)}`),
      "",
    );
  return `${out.join("\n")}\n`;
}
