import type { Check } from "../../core/types.js";

/**
 * pytest's own channels besides the JUnit report: the terminal summary line (`2 failed, 3 passed in 0.04s`) and
 * the count of a separate `--collect-only` run. Code under test runs inside pytest's process and can rewrite the
 * report (at exit, after pytest wrote it); it then has to forge every other channel the same way, in two processes.
 */
export interface PytestSummary {
  passed: number;
  failed: number;
  errors: number;
  skipped: number;
  xfailed: number;
  xpassed: number;
}

const SUMMARY_LINE = /^=*\s*((?:\d+ \w+(?:, )?)+|no tests ran) in [\d.]+s(?: \([\d:]+\))?\s*=*$/;

/** The last summary line of a pytest run's output, or undefined when there is none. */
export function parsePytestSummary(stdout: string): PytestSummary | undefined {
  const line = stdout
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => SUMMARY_LINE.test(l))
    .at(-1);
  if (line === undefined) return undefined;
  const s: PytestSummary = { passed: 0, failed: 0, errors: 0, skipped: 0, xfailed: 0, xpassed: 0 };
  for (const m of line.matchAll(/(\d+) (\w+)/g)) {
    const n = Number(m[1]);
    const word = m[2]!;
    if (word === "error" || word === "errors") s.errors += n;
    else if (word in s) s[word as keyof PytestSummary] += n;
  }
  return s;
}

/** `9 tests collected, 1 error in 0.04s`, `2/9 tests collected (7 deselected)`, `no tests collected`. */
export function parsePytestCollected(stdout: string): number | undefined {
  const lines = stdout.split(/\r?\n/).reverse();
  for (const l of lines) {
    const m = /^=*\s*(\d+)(?:\/\d+)? tests? collected\b/.exec(l.trim());
    if (m) return Number(m[1]);
    if (/^=*\s*no tests collected\b/.test(l.trim())) return 0;
  }
  return undefined;
}

/**
 * Where the report disagrees with the summary line and the separate collection: one sentence per disagreement.
 * `checks` are the report's (one per <testcase>); a collection error is a check whose id is a file, not a test.
 */
export function pytestDisagreements(
  checks: readonly Check[],
  summary: PytestSummary | undefined,
  collected: number | undefined,
): string[] {
  const out: string[] = [];
  const count = (s: Check["status"]) => checks.filter((c) => c.status === s).length;
  const report = { pass: count("pass"), fail: count("fail"), skip: count("skip") };
  if (summary === undefined) out.push("pytest printed no summary line (`N passed, M failed in …s`)");
  else {
    const said = {
      pass: summary.passed + summary.xpassed,
      fail: summary.failed + summary.errors,
      skip: summary.skipped + summary.xfailed,
    };
    if (said.pass !== report.pass || said.fail !== report.fail || said.skip !== report.skip)
      out.push(
        `pytest's summary says ${said.pass} passed, ${said.fail} failed or errors, ${said.skip} skipped; ` +
          `its report says ${report.pass}, ${report.fail}, ${report.skip}`,
      );
  }
  const tests = new Set(checks.filter((c) => c.id.includes("::")).map((c) => c.id)).size;
  if (collected === undefined) out.push("a separate `pytest --collect-only` gave no count of tests");
  else if (tests < collected)
    out.push(`the report has ${tests} test(s); a separate collection of the same tests found ${collected}`);
  return out;
}
