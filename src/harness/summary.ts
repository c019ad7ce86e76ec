import { HarnessGenerator } from "./generator.js";
import { readHarnessReport, transformerCoverage } from "./run.js";
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
