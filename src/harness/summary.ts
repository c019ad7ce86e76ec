import { type CoverageGap, HarnessGenerator } from "./generator.js";
import type { OdibiIntrospection } from "./introspect.js";
import { type HarnessReport, readHarnessReport, transformerCoverage } from "./run.js";
import { readHarnesses, readIntrospection } from "./write.js";

/** What `status` shows of the harnesses: how many, the last run's result and the coverage gaps (null: none yet). */
export function harnessSummary(goldenDir: string): {
  odibiVersion: string;
  harnesses: number;
  gaps: number;
  lastRun: { at: string; passed: number; total: number; findings: number; transformers: string } | null;
} | null {
  const intro = readIntrospection(goldenDir);
  if (!intro) return null;
  const harnesses = readHarnesses(goldenDir);
  const report = readHarnessReport(goldenDir);
  const cov = transformerCoverage(report, intro.transformers.length);
  return {
    odibiVersion: intro.odibiVersion,
    harnesses: harnesses.length,
    gaps: new HarnessGenerator(intro).listCoverageGaps(harnesses).length,
    lastRun: report
      ? {
          at: report.ranAt,
          passed: report.harnesses.filter((h) => h.passed).length,
          total: report.harnesses.length,
          findings: report.findings.length,
          transformers: cov ? `${cov.passed}/${cov.total}` : "0/0",
        }
      : null,
  };
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\s+/g, " ").trim();
}

/**
 * The run's summary in markdown (`SUMMARY.md` next to findings.json): pass counts by kind, the transformer coverage,
 * the coverage gaps, and each finding with odibi's error.
 */
export function renderHarnessSummary(
  report: HarnessReport,
  intro: OdibiIntrospection,
  gaps: CoverageGap[],
): string {
  const kinds = ["transformer", "pattern", "edge"] as const;
  const cov = transformerCoverage(report, intro.transformers.length);
  const out = [
    `# Harness run on odibi ${report.odibiVersion}`,
    "",
    `Run at ${report.ranAt}: ${report.harnesses.filter((h) => h.passed).length}/${report.harnesses.length} harnesses pass, ${report.findings.length} finding(s).`,
    "",
    "| kind | harnesses | pass |",
    "|---|---|---|",
    ...kinds.map((k) => {
      const hs = report.harnesses.filter((h) => h.kind === k);
      return `| ${k} | ${hs.length} | ${hs.filter((h) => h.passed).length} |`;
    }),
    "",
    `Harnesses passing: ${cov ? `${cov.passed}/${cov.total}` : "n/a"} transformers have a passing harness of their own.`,
    "",
    "## Findings",
    "",
    "| harness | node | error |",
    "|---|---|---|",
    ...report.findings.map(
      (f) =>
        `| ${f.harness} | ${f.node ?? "-"} | ${cell(`${f.errorType}: ${f.message.split("\n")[0]!}`).slice(0, 300)} |`,
    ),
    "",
    "## Coverage gaps",
    "",
    ...(gaps.length ? gaps.map((g) => `- ${g.kind} \`${g.subject}\`: ${g.reason}`) : ["None."]),
  ];
  return `${out.join("\n")}\n`;
}
