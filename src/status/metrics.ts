import type { GateResult } from "../core/types.js";
import type { CheckRef, DiffStat, GateSummary, PassCount } from "./types.js";

/** Pure figures from gate results, for reports and the roadmap's success metrics. */

export function summariseGates(result: GateResult | null): GateSummary[] | null {
  if (!result) return null;
  return result.runs.map((run) => {
    const count = (s: string) => run.checks.filter((c) => c.status === s).length;
    return {
      gate: run.gate,
      passed: count("pass"),
      failed: count("fail"),
      skipped: count("skip"),
      flaky: count("flaky"),
      ...(run.error ? { error: run.error } : {}),
      durationMs: run.durationMs,
      ...(run.cached ? { cached: true } : {}),
      ...(run.scope === "targeted" ? { scope: "targeted" as const } : {}),
    };
  });
}

/** Passed / (passed + failed) of one gate's checks; flaky and skipped checks count for neither. */
export function passCount(result: GateResult | null, gate: string): PassCount | null {
  const runs = result?.runs.filter((r) => r.gate === gate) ?? [];
  if (runs.length === 0) return null;
  let passed = 0;
  let total = 0;
  for (const c of runs.flatMap((r) => r.checks)) {
    if (c.status === "pass") passed++;
    if (c.status === "pass" || c.status === "fail") total++;
  }
  return { passed, total };
}

export function failureCount(result: GateResult | null, gate: string): number | null {
  const runs = result?.runs.filter((r) => r.gate === gate) ?? [];
  if (runs.length === 0) return null;
  return runs.flatMap((r) => r.checks).filter((c) => c.status === "fail").length;
}

/** Checks that passed in `before` and fail in `after`: regressions, which a campaign must never leave behind. */
export function regressions(before: GateResult | null, after: GateResult | null): CheckRef[] {
  if (!before || !after) return [];
  const passedBefore = new Set(
    before.runs.flatMap((r) =>
      r.checks.filter((c) => c.status === "pass").map((c) => `${c.gate}\u0000${c.id}`),
    ),
  );
  return after.runs.flatMap((r) =>
    r.checks
      .filter((c) => c.status === "fail" && passedBefore.has(`${c.gate}\u0000${c.id}`))
      .map((c) => ({ gate: c.gate, id: c.id, ...(c.message ? { message: c.message } : {}) })),
  );
}

/** Flaky checks over many gate results, most frequent first. */
export function flakyChecks(
  results: readonly GateResult[],
): { gate: string; id: string; occurrences: number }[] {
  const counts = new Map<string, { gate: string; id: string; occurrences: number }>();
  for (const c of results.flatMap((r) => r.runs.flatMap((run) => run.checks))) {
    if (c.status !== "flaky") continue;
    const k = `${c.gate}\u0000${c.id}`;
    const e = counts.get(k) ?? { gate: c.gate, id: c.id, occurrences: 0 };
    e.occurrences++;
    counts.set(k, e);
  }
  return [...counts.values()].sort((a, b) => b.occurrences - a.occurrences || a.id.localeCompare(b.id));
}

/** Parses git's `--shortstat` line ("3 files changed, 10 insertions(+), 2 deletions(-)"). */
export function parseShortStat(line: string, stat?: string): DiffStat {
  const num = (re: RegExp) => Number(re.exec(line)?.[1] ?? 0);
  return {
    filesChanged: num(/(\d+) files? changed/),
    insertions: num(/(\d+) insertions?\(\+\)/),
    deletions: num(/(\d+) deletions?\(-\)/),
    ...(stat === undefined ? {} : { stat }),
  };
}
