import type { Check, GateResult } from "../core/types.js";
import { failureText, type GateVerdict } from "./verdict.js";

function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "))
    .join("\n");
}

function line(c: Check, note?: string): string {
  const where = c.file && !c.id.includes(c.file) ? ` ${c.file}${c.line ? `:${c.line}` : ""}` : "";
  const what = failureText(c);
  return `  ${c.status.toUpperCase().padEnd(5)} ${c.gate} ${c.id}${where}${what ? ` — ${what}` : ""}${note ? `\n        ↳ ${note}` : ""}`;
}

/**
 * The verdict table: one row per gate run, then the failures (new ones first when a verdict is given). `noteOf`
 * may add a line under a failure (e.g. the dependency it needs).
 */
export function renderGateTable(
  result: GateResult,
  verdict?: GateVerdict,
  opts: { maxFailures?: number; noteOf?: (c: Check) => string | undefined } = {},
): string {
  const maxFailures = opts.maxFailures ?? 30;
  const rows = [["gate", "scope", "checks", "pass", "fail", "skip", "flaky", "cached", "time"]];
  for (const r of result.runs) {
    const n = (s: Check["status"]) => String(r.checks.filter((c) => c.status === s).length);
    rows.push([
      r.gate,
      r.scope ?? "full",
      String(r.checks.length),
      n("pass"),
      n("fail"),
      n("skip"),
      n("flaky"),
      r.cached ? "yes" : "no",
      `${(r.durationMs / 1000).toFixed(1)}s`,
    ]);
  }
  const out = [pad(rows)];
  const sections: Array<[string, Check[]]> = verdict
    ? [
        ["New failures", verdict.newFailures],
        ["Fixed", verdict.fixed],
        ["Known failures (baseline)", verdict.stillFailing],
        ["Flaky (ignored)", verdict.flaky],
      ]
    : [
        ["Failures", result.runs.flatMap((r) => r.checks.filter((c) => c.status === "fail"))],
        ["Flaky (ignored)", result.runs.flatMap((r) => r.checks.filter((c) => c.status === "flaky"))],
      ];
  for (const [title, checks] of sections) {
    if (checks.length === 0) continue;
    out.push(
      "",
      `${title} (${checks.length}):`,
      ...checks.slice(0, maxFailures).map((c) => line(c, opts.noteOf?.(c))),
    );
    if (checks.length > maxFailures)
      out.push(`  … and ${checks.length - maxFailures} more (--json lists all)`);
  }
  if (verdict) out.push("", `Verdict: ${verdict.reason}`);
  return out.join("\n");
}
