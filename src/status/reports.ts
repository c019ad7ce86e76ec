import { describeHours } from "../core/duration.js";
import { capText, escapeInline, fenced, link, table } from "./markdown.js";
import type {
  CampaignReportData,
  CheckRef,
  CycleReportData,
  GateSummary,
  NotWorkGroup,
  PassCount,
  TestsAdded,
} from "./types.js";

/**
 * Markdown reports: pure functions from data to text. The runner writes them to `<root>/reports/` (see
 * `writeReport`). Everything that came from outside the tool (LLM summaries, error messages, check ids, diffs)
 * is escaped or fenced.
 */

export const DIFF_MAX_LINES = 400;
export const DIFF_MAX_CHARS = 40_000;

export function cycleReportName(cycle: number): string {
  return `cycle_${String(cycle).padStart(3, "0")}_report.md`;
}

export function campaignReportName(campaignId: string): string {
  return `campaign_${campaignId.replace(/[^A-Za-z0-9._-]/g, "_")}_report.md`;
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? "" : `${(ms / 1000).toFixed(1)}s`;
}

function gateCell(g: GateSummary | undefined): string {
  if (!g) return "—";
  if (g.error) return `error: ${escapeInline(g.error, 120)}`;
  const parts = [`${g.passed} pass`, `${g.failed} fail`];
  if (g.flaky) parts.push(`${g.flaky} flaky`);
  if (g.skipped) parts.push(`${g.skipped} skip`);
  return `${parts.join(", ")}${g.scope === "targeted" ? " (targeted)" : ""}${g.cached ? " (cached)" : ""}`;
}

function gatesTable(before: GateSummary[] | null, after: GateSummary[] | null): string {
  const names = [...new Set([...(before ?? []), ...(after ?? [])].map((g) => g.gate))];
  if (names.length === 0) return "_No gates ran._";
  const rows = names.map((name) => {
    // A gate can have run twice (the cascade's targeted step, then the full suite): the last run decided.
    const b = before?.findLast((g) => g.gate === name);
    const a = after?.findLast((g) => g.gate === name);
    return [escapeInline(name), gateCell(b), gateCell(a), seconds(a?.durationMs ?? b?.durationMs)];
  });
  return table(["gate", "before (Master)", "after (candidate)", "time"], rows);
}

function checkList(checks: CheckRef[], max = 20): string {
  const lines = checks
    .slice(0, max)
    .map(
      (c) =>
        `- ${escapeInline(c.gate)}: ${escapeInline(c.id, 200)}${c.message ? ` — ${escapeInline(c.message, 200)}` : ""}`,
    );
  if (checks.length > max) lines.push(`- … and ${checks.length - max} more`);
  return lines.join("\n");
}

/** The "not work" section: each reason with its count, then the items listed for it. */
/** A test-adding candidate's coverage of its target, before → after, or "not measured". */
function coverageCell(t: TestsAdded): string {
  const c = t.coverage;
  if (!c) return "not measured";
  const pct = (n: number) => (c.statements ? `${((100 * n) / c.statements).toFixed(1)}%` : "—");
  const b = c.branches;
  const branches = b
    ? `; branches ${b.before}/${b.total} → ${b.after}/${b.total}, +${b.after - b.before}`
    : "";
  return `lines ${c.before}/${c.statements} (${pct(c.before)}) → ${c.after}/${c.statements} (${pct(c.after)}), +${c.gained.length}${branches}`;
}

function mutantsCell(t: TestsAdded): string {
  return t.mutants ? `${t.mutants.filter((m) => m.killed).length}/${t.mutants.length} killed` : "not run";
}

/** The cycle report's section on a test-adding candidate: its tests, the coverage gained, each mutant. */
function testsAddedSection(t: TestsAdded): string[] {
  const out = [
    "",
    "## Tests added",
    "",
    `- Tests: ${t.tests.map((f) => escapeInline(f, 200)).join(", ")}`,
    `- Target: ${escapeInline(t.target, 200)}; coverage: ${coverageCell(t)}`,
  ];
  if (t.mutants?.length)
    out.push(
      "",
      table(
        ["mutant", "line", "change", "killed"],
        t.mutants.map((m) => [
          m.kind,
          String(m.line),
          escapeInline(m.description, 120),
          m.killed ? "yes" : "no",
        ]),
      ),
    );
  return out;
}

function notWorkSection(groups: NotWorkGroup[]): string[] {
  const total = groups.reduce((n, g) => n + g.count, 0);
  const out = ["", "## Discovered, not work", "", `${plural(total, "discovered issue")} not worked on:`, ""];
  for (const g of groups) {
    out.push(`### ${escapeInline(g.reason, 200)}: ${g.count}`, "");
    out.push(...g.items.map((i) => `- ${escapeInline(i.title, 200)} — ${escapeInline(i.why, 300)}`));
    if (g.count > g.items.length) out.push(`- … and ${g.count - g.items.length} more`);
    out.push("");
  }
  return out;
}

/** Open items no approach of the campaign could take: what a model (or a human) would work on next. */
function waitingSection(w: NonNullable<CampaignReportData["waiting"]>): string[] {
  const out = [
    "",
    "## Left for a model or a human",
    "",
    `${plural(w.total, "open item")} no fixer can take (configure an LLM with \`llm:\` in config.yaml or \`--llm-provider\` to work on them):`,
    "",
    ...w.items.map(
      (i) => `- ${escapeInline(i.title, 200)} (${escapeInline(i.kind)}: ${escapeInline(i.target, 200)})`,
    ),
  ];
  if (w.total > w.items.length) out.push(`- … and ${w.total - w.items.length} more`);
  return out;
}

export function renderCycleReport(d: CycleReportData): string {
  const out: string[] = [];
  out.push(`# Cycle ${d.cycle} — ${d.decision.action}`, "");
  out.push(`- Campaign: ${escapeInline(d.campaignId)}`);
  out.push(
    `- Started: ${escapeInline(d.startedAt)}${d.finishedAt ? `, finished: ${escapeInline(d.finishedAt)}` : ""}`,
  );
  if (d.llm) out.push(`- LLM: ${d.llm.tokens} tokens, $${d.llm.costUsd.toFixed(4)}`);
  out.push("", "## Task", "");
  if (!d.task) out.push(`No task this cycle: ${escapeInline(d.decision.reason || "no work found", 500)}.`);
  else {
    out.push(`- ${escapeInline(d.task.title)}`);
    out.push(
      `- Kind: ${d.task.kind}; target: ${escapeInline(d.task.target, 200)}; signature: ${escapeInline(d.task.signature)}`,
    );
    if (d.task.detail) out.push("", fenced(capText(d.task.detail, 40, 4000).text, "text"));
  }
  out.push("", "## Approach", "");
  if (!d.approach) out.push("None attempted.");
  else {
    out.push(
      `- ${d.approach.kind === "fixer" ? "Deterministic fixer" : "LLM"}: ${escapeInline(d.approach.name)}`,
    );
    if (d.approach.summary)
      out.push(
        "",
        "Summary (as given by the approach):",
        "",
        fenced(capText(d.approach.summary, 60, 6000).text, "text"),
      );
  }
  out.push("", "## Gates", "", gatesTable(d.gatesBefore, d.gatesAfter));
  if (d.newFailures?.length) out.push("", "New failures on the candidate:", "", checkList(d.newFailures));
  if (d.oracleRestored?.length)
    out.push(
      "",
      "Oracle paths put back to Master's before a gate run (changed by the candidate, or written by its code in an earlier gate run):",
      "",
      ...d.oracleRestored.map((p) => `- ${escapeInline(p)}`),
    );
  out.push("", "## Diff", "");
  if (d.unrelatedFiles?.length)
    out.push(
      `**Files unrelated to the task** (not named by it, nor in a named file's folder): ${d.unrelatedFiles
        .slice(0, 20)
        .map((f) => escapeInline(f, 200))
        .join(", ")}${d.unrelatedFiles.length > 20 ? ` and ${d.unrelatedFiles.length - 20} more` : ""}`,
      "",
    );
  if (!d.diff?.trim()) out.push("_No change._");
  else {
    const capped = capText(d.diff, DIFF_MAX_LINES, DIFF_MAX_CHARS);
    out.push(fenced(capped.text, "diff"));
    if (capped.truncated)
      out.push(
        "",
        `_Diff cut: ${capped.totalLines} lines in all; the full diff is in the promoted commit or sandbox._`,
      );
  }
  if (d.testsAdded) out.push(...testsAddedSection(d.testsAdded));
  out.push("", "## Decision", "", `**${d.decision.action}** — ${escapeInline(d.decision.reason, 1000)}`);
  if (d.snapshot) out.push("", `- Snapshot of Master before promotion: ${escapeInline(d.snapshot)}`);
  if (d.commit) out.push(`- Master commit: ${escapeInline(d.commit)}`);
  if (d.notWork?.length) out.push(...notWorkSection(d.notWork));
  if (d.trajectories?.length) {
    out.push(
      "",
      "## Trajectories",
      "",
      ...d.trajectories.map((t) => `- ${link(t.split(/[\\/]/).pop() ?? t, t)}`),
    );
  }
  return `${out.join("\n")}\n`;
}

type Met = "yes" | "no" | "n/a";
const MET_MARK: Record<Met, string> = { yes: "✅", no: "❌", "n/a": "—" };

function rate(p: PassCount | null): string {
  if (!p) return "not measured";
  return p.total === 0 ? "no tests" : `${((100 * p.passed) / p.total).toFixed(1)}% (${p.passed}/${p.total})`;
}

function beforeAfter(before: string, after: string): string {
  return before === after ? after : `${before} → ${after}`;
}

/** A `## title` section holding a table, or `empty` when there are no rows. Starts with a blank line. */
function tableSection(title: string, empty: string, header: string[], rows: string[][]): string {
  return `\n## ${title}\n\n${rows.length === 0 ? empty : table(header, rows)}`;
}

/** "Harness coverage": the package's lines + branches run by its tests and harnesses, and the subjects they ran. */
function coverageRow(c: CampaignReportData["packageCoverage"]): [string, string, string, Met][] {
  if (!c) return [];
  const s = c.subjects;
  const ran = s ? `; ${s.exercised}/${s.total} transformers and patterns run` : "";
  const met: Met = !s || s.total === 0 ? "n/a" : s.exercised === s.total ? "yes" : "no";
  return [
    [
      "Harness coverage",
      "every transformer and pattern run",
      `${c.percent.toFixed(1)}% of lines + branches (${escapeInline(c.measuredBy)})${ran}`,
      met,
    ],
  ];
}

export function renderCampaignReport(d: CampaignReportData): string {
  const out: string[] = [];
  out.push(`# Campaign ${escapeInline(d.campaignId)}`, "");
  out.push(`- Status: **${d.status}**${d.stopReason ? ` (${escapeInline(d.stopReason)})` : ""}`);
  out.push(
    `- Started: ${escapeInline(d.startedAt)}${d.finishedAt ? `; finished: ${escapeInline(d.finishedAt)}` : ""}; ${describeHours(d.elapsedHours)}`,
  );
  out.push(
    `- Cycles: ${d.cyclesCompleted}; promoted: ${d.improvementsPromoted}; rejected: ${d.improvementsRejected}`,
  );
  if (d.llm) {
    const perPromotion =
      d.improvementsPromoted > 0
        ? `$${(d.llm.costUsd / d.improvementsPromoted).toFixed(4)} per promotion`
        : "no promotion";
    out.push(`- LLM: ${d.llm.tokens} tokens, $${d.llm.costUsd.toFixed(4)}; ${perPromotion}`);
  }

  const t = d.tests.after;
  const testsMet: Met = !t || t.total === 0 ? "n/a" : t.passed === t.total ? "yes" : "no";
  const lintMet: Met = d.lintErrors.after === null ? "n/a" : d.lintErrors.after === 0 ? "yes" : "no";
  const h = d.harnessCoverage;
  const harnessMet: Met = !h || h.total === 0 ? "n/a" : h.passed === h.total ? "yes" : "no";
  const convMet: Met = d.cyclesToConvergence === null ? "no" : d.cyclesToConvergence < 10 ? "yes" : "no";
  const improvements = d.masterDiff ? d.masterDiff.filesChanged : d.improvementsPromoted;
  const lint = (n: number | null) => (n === null ? "not measured" : String(n));
  const rows: [string, string, string, Met][] = [
    ["Test pass rate", "100%", beforeAfter(rate(d.tests.before), rate(t)), testsMet],
    ["Lint errors", "0", beforeAfter(lint(d.lintErrors.before), lint(d.lintErrors.after)), lintMet],
    // Shown only when measured.
    ...coverageRow(d.packageCoverage),
    ...(h
      ? [
          [
            "Harnesses passing",
            "100% of transformers",
            `${h.total ? ((100 * h.passed) / h.total).toFixed(1) : "0"}% (${h.passed}/${h.total})`,
            harnessMet,
          ] as [string, string, string, Met],
        ]
      : []),
    [
      "Convergence",
      "< 10 cycles",
      d.cyclesToConvergence === null
        ? `did not converge (${escapeInline(d.stopReason ?? d.status)})`
        : `${d.cyclesToConvergence} cycles`,
      convMet,
    ],
    [
      "Master improvements",
      "> 0",
      d.masterDiff
        ? `${d.improvementsPromoted} promotions; ${plural(d.masterDiff.filesChanged, "file")}, +${d.masterDiff.insertions} −${d.masterDiff.deletions}`
        : `${d.improvementsPromoted} promotions`,
      improvements > 0 ? "yes" : "no",
    ],
    ["Regressions", "0", String(d.regressions.length), d.regressions.length === 0 ? "yes" : "no"],
  ];
  out.push(
    "",
    "## Success metrics",
    "",
    table(
      ["metric", "target", "result", "met"],
      rows.map(([a, b, c, m]) => [a, b, c, MET_MARK[m]]),
    ),
  );

  if (d.regressions.length) out.push("", "### Regressions", "", checkList(d.regressions));

  out.push("", "## What this campaign changed in Master", "");
  if (!d.masterDiff) out.push("Not measured.");
  else if (d.masterDiff.filesChanged === 0) out.push("Nothing: this campaign promoted no change.");
  else {
    out.push(
      `${plural(d.masterDiff.filesChanged, "file")} changed, ${plural(d.masterDiff.insertions, "insertion")}, ${plural(d.masterDiff.deletions, "deletion")}.`,
    );
    if (d.masterDiff.stat) out.push("", fenced(capText(d.masterDiff.stat, 200, 20_000).text, "text"));
    out.push(
      "",
      "Take them into your repository after review: `odibi-improve apply` (a branch) or `odibi-improve export` (patches).",
    );
  }

  out.push(
    tableSection(
      "Promotions",
      "None.",
      // With an LLM, each promotion shows what its cycle spent on it.
      ["cycle", "change", "snapshot", "commit", "at", ...(d.llm ? ["LLM spend"] : [])],
      d.promotions.map((p) => [
        link(String(p.cycle), cycleReportName(p.cycle)),
        escapeInline(p.title, 200),
        p.snapshot ? escapeInline(p.snapshot) : "—",
        p.commit ? escapeInline(p.commit.slice(0, 12)) : "—",
        escapeInline(p.at),
        ...(d.llm ? [p.llm ? `${p.llm.tokens} tokens, $${p.llm.costUsd.toFixed(4)}` : "none"] : []),
      ]),
    ),
    ...testsAddedRows(d.promotions),
    tableSection(
      "Cycles",
      "None.",
      ["cycle", "task", "decision", "why"],
      d.cycles.map((c) => [
        link(String(c.cycle), cycleReportName(c.cycle)),
        c.task === null ? "no work found" : escapeInline(c.task, 200),
        c.action,
        escapeInline(c.reason, 300),
      ]),
    ),
    tableSection(
      "Avoided issues",
      "None.",
      ["signature", "issue", "failed attempts", "last reason"],
      d.avoidedIssues.map((a) => [
        escapeInline(a.signature),
        escapeInline(a.title, 200),
        String(a.failures),
        a.lastReason ? escapeInline(a.lastReason, 300) : "—",
      ]),
    ),
    tableSection(
      "Flaky checks",
      "None seen.",
      ["gate", "check", "times flaky"],
      d.flakyChecks.map((f) => [escapeInline(f.gate), escapeInline(f.id, 200), String(f.occurrences)]),
    ),
  );
  if (d.environmentFailures?.length)
    out.push(
      tableSection(
        "Failing for want of a dependency (not worked on)",
        "",
        ["gate", "check", "install"],
        d.environmentFailures.map((f) => [
          escapeInline(f.gate),
          escapeInline(f.id, 200),
          escapeInline(f.needs, 200),
        ]),
      ),
      "",
      "No code change fixes these: install what they need where the gates run (the venv, `<root>/node_modules`) to have them tested.",
    );
  if (d.waiting?.total) out.push(...waitingSection(d.waiting));
  if (d.notWork?.length) out.push(...notWorkSection(d.notWork));

  if (d.warnings?.length)
    out.push("", "## Warnings", "", ...d.warnings.map((w) => `- ${escapeInline(w, 500)}`));
  return `${out.join("\n")}\n`;
}

/** The campaign report's "Tests added" section: one row per promoted test-adding candidate (none: no section). */
function testsAddedRows(promotions: CampaignReportData["promotions"]): string[] {
  const added = promotions.filter((p) => p.testsAdded);
  if (added.length === 0) return [];
  return [
    tableSection(
      "Tests added",
      "None.",
      ["cycle", "tests", "target", "coverage", "mutants"],
      added.map((p) => {
        const t = p.testsAdded!;
        return [
          link(String(p.cycle), cycleReportName(p.cycle)),
          t.tests.map((f) => escapeInline(f, 200)).join(", "),
          escapeInline(t.target, 200),
          coverageCell(t),
          mutantsCell(t),
        ];
      }),
    ),
  ];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
