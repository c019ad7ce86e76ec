import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import MarkdownIt from "markdown-it";
import { describe, expect, it } from "vitest";
import { describeHours } from "../src/core/duration.js";
import type { GateResult, Task } from "../src/core/types.js";
import { SacredGuard } from "../src/environment/sacred.js";
import {
  type CampaignReportData,
  type CycleReportData,
  campaignReportName,
  cycleReportName,
  escapeInline,
  fenced,
  flakyChecks,
  markdownForTerminal,
  parseShortStat,
  passCount,
  regressions,
  renderCampaignReport,
  renderCycleReport,
  summariseGates,
  writeReport,
} from "../src/status/index.js";
import { tempDir } from "./helpers.js";

const md = new MarkdownIt({ html: false });
const tokens = (text: string) => md.parse(text, {});
const count = (text: string, type: string) => tokens(text).filter((t) => t.type === type).length;
const headings = (text: string) =>
  tokens(text)
    .map((t, i, all) => (t.type === "heading_open" ? `${t.tag} ${all[i + 1]!.content}` : null))
    .filter(Boolean);

/** Text an LLM or a failing tool could produce that tries to restructure the document. */
const HOSTILE = [
  "# Pwned heading",
  "<script>alert(1)</script> <img src=x onerror=alert(1)>",
  "| fake | table |",
  "|---|---|",
  "```",
  "[click](javascript:alert(1)) ![x](http://evil/x.png)",
  "- list item",
  "1. numbered",
  "&lt; entity &amp;",
].join("\n");

const task: Task = {
  kind: "failure",
  target: "tests/test_a.py::test_join|x",
  title: `tests failure ${HOSTILE}`,
  signature: "sig_0123456789abcdef",
  gate: "tests",
  detail: HOSTILE,
};

function cycleData(over: Partial<CycleReportData> = {}): CycleReportData {
  return {
    campaignId: "c_2025",
    cycle: 7,
    startedAt: "2025-12-16T22:00:00Z",
    finishedAt: "2025-12-16T22:05:00Z",
    task,
    approach: { kind: "llm", name: "gpt-4o-mini", summary: HOSTILE },
    gatesBefore: [{ gate: "lint", passed: 10, failed: 2, skipped: 0, flaky: 0, durationMs: 1200 }],
    gatesAfter: [
      { gate: "lint", passed: 12, failed: 0, skipped: 0, flaky: 0, durationMs: 1100 },
      { gate: "tests", passed: 0, failed: 0, skipped: 0, flaky: 0, error: `pytest crashed: ${HOSTILE}` },
    ],
    newFailures: [{ gate: "tests", id: "t|1", message: HOSTILE }],
    diff: "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-import os\n+```\n+# not a heading\n",
    decision: { action: "rejected", reason: `introduced 1 new failure: ${HOSTILE}` },
    trajectories: ["../trajectories/cycle 007/attempt (1).jsonl"],
    ...over,
  };
}

describe("cycle report", () => {
  it("has the sections in order and keeps untrusted text from changing the structure", () => {
    const text = renderCycleReport(cycleData());
    expect(headings(text)).toEqual([
      "h1 Cycle 7 — rejected",
      "h2 Task",
      "h2 Approach",
      "h2 Gates",
      "h2 Diff",
      "h2 Decision",
      "h2 Trajectories",
    ]);
    expect(count(text, "table_open")).toBe(1);
    // the gates table has exactly the two gates as rows, whatever the error message contained
    expect(count(text, "tr_open")).toBe(3);
    // fences: task detail, approach summary, diff — each closed where it should be
    const fences = tokens(text).filter((t) => t.type === "fence");
    expect(fences.map((f) => f.info)).toEqual(["text", "text", "diff"]);
    expect(fences[1]!.content).toBe(`${HOSTILE}\n`);
    expect(fences[2]!.content).toContain("+# not a heading");
    const html = md.render(text);
    expect(html).not.toMatch(/<script|<img|href="javascript/);
    // the only link is the trajectory
    const links = tokens(text)
      .flatMap((t) => t.children ?? [])
      .filter((t) => t.type === "link_open");
    expect(links.map((l) => l.attrGet("href"))).toEqual([
      "../trajectories/cycle%20007/attempt%20%281%29.jsonl",
    ]);
    expect(text).toContain("lint | 10 pass, 2 fail | 12 pass, 0 fail | 1.1s");
  });

  it("caps a long diff and says so", () => {
    const diff = Array.from({ length: 1000 }, (_, i) => `+line ${i}`).join("\n");
    const text = renderCycleReport(cycleData({ diff }));
    const fence = tokens(text).filter((t) => t.type === "fence" && t.info === "diff")[0]!;
    expect(fence.content.split("\n").filter(Boolean)).toHaveLength(400);
    expect(text).toMatch(/Diff cut: 1000 lines in all/);
  });

  it("reports a cycle that found no work", () => {
    const text = renderCycleReport(
      cycleData({
        task: null,
        approach: undefined,
        gatesAfter: null,
        diff: undefined,
        newFailures: [],
        trajectories: [],
        decision: { action: "no_change", reason: "NO_WORK" },
      }),
    );
    expect(text).toMatch(/^# Cycle 7 — no_change/);
    expect(text).toContain("No task this cycle: NO\\_WORK.");
    expect(text).toContain("_No change._");
    expect(text).toContain("lint | 10 pass, 2 fail | — |");
  });

  it("shows the run that decided: the full suite after the cascade's targeted step", () => {
    const text = renderCycleReport(
      cycleData({
        gatesBefore: [{ gate: "tests", passed: 9000, failed: 1, skipped: 0, flaky: 0 }],
        gatesAfter: [
          {
            gate: "tests",
            passed: 116,
            failed: 0,
            skipped: 0,
            flaky: 0,
            scope: "targeted",
            durationMs: 17_000,
          },
          { gate: "tests", passed: 9001, failed: 0, skipped: 0, flaky: 0, durationMs: 300_000 },
        ],
      }),
    );
    expect(text).toContain("| tests | 9000 pass, 1 fail | 9001 pass, 0 fail | 300.0s |");
    expect(text).not.toContain("116 pass");
    const targetedOnly = renderCycleReport(
      cycleData({
        gatesAfter: [{ gate: "lint", passed: 3, failed: 1, skipped: 0, flaky: 0, scope: "targeted" }],
      }),
    );
    expect(targetedOnly).toContain("3 pass, 1 fail (targeted)");
  });
});

function campaignData(over: Partial<CampaignReportData> = {}): CampaignReportData {
  return {
    campaignId: "c_2025",
    status: "completed",
    stopReason: "CONVERGED",
    startedAt: "2025-12-16T22:00:00Z",
    finishedAt: "2025-12-17T00:00:00Z",
    elapsedHours: 2,
    cyclesCompleted: 6,
    improvementsPromoted: 3,
    improvementsRejected: 2,
    cyclesToConvergence: 6,
    tests: { before: { passed: 98, total: 100 }, after: { passed: 100, total: 100 } },
    lintErrors: { before: 12, after: 0 },
    harnessCoverage: { passed: 40, total: 52 },
    packageCoverage: {
      percent: 61.24,
      measuredBy: "tests + harnesses",
      subjects: { exercised: 63, total: 65 },
    },
    regressions: [],
    masterDiff: parseShortStat(" 3 files changed, 10 insertions(+), 2 deletions(-)", " a.py | 4 ++--\n"),
    promotions: [
      {
        cycle: 1,
        title: `ruff fix ${HOSTILE}`,
        at: "2025-12-16T22:10:00Z",
        snapshot: "cycle_001",
        commit: "0123456789abcdef0123",
      },
    ],
    cycles: [
      { cycle: 1, task: "F401", action: "promoted", reason: "fixes its target" },
      { cycle: 2, task: null, action: "no_change", reason: "NO_WORK" },
    ],
    avoidedIssues: [{ signature: "sig_a", title: HOSTILE, failures: 2, lastReason: HOSTILE }],
    flakyChecks: [{ gate: "tests", id: "t::flaky", occurrences: 3 }],
    warnings: ["isolation: bwrap not available"],
    ...over,
  };
}

/** The metric rows as [metric, result, met]. */
function metrics(text: string): string[][] {
  const rows = text
    .split("## Success metrics")[1]!
    .split("\n## ")[0]!
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| metric") && !l.startsWith("| ---"));
  return rows
    .map((r) => r.split(" | ").map((c) => c.replace(/^\| |\s\|$/g, "").trim()))
    .map((c) => [c[0]!, c[2]!, c[3]!]);
}

describe("campaign report", () => {
  it("shows the roadmap's success metrics with targets and whether they are met", () => {
    const text = renderCampaignReport(campaignData());
    expect(metrics(text)).toEqual([
      ["Test pass rate", "98.0% (98/100) → 100.0% (100/100)", "✅"],
      ["Lint errors", "12 → 0", "✅"],
      [
        "Harness coverage",
        "61.2% of lines + branches (tests + harnesses); 63/65 transformers and patterns run",
        "❌",
      ],
      ["Harnesses passing", "76.9% (40/52)", "❌"],
      ["Convergence", "6 cycles", "✅"],
      ["Master improvements", "3 promotions; 3 files, +10 −2", "✅"],
      ["Regressions", "0", "✅"],
    ]);
    expect(headings(text)).toEqual([
      "h1 Campaign c\\_2025",
      "h2 Success metrics",
      "h2 What this campaign changed in Master",
      "h2 Promotions",
      "h2 Cycles",
      "h2 Avoided issues",
      "h2 Flaky checks",
      "h2 Warnings",
    ]);
    // five tables, each with its own rows only: hostile titles did not add rows or tables
    expect(count(text, "table_open")).toBe(5);
    expect(count(text, "tr_open")).toBe(8 + 2 + 3 + 2 + 2);
    expect(md.render(text)).not.toMatch(/<script|<img|href="javascript/);
    expect(text).toContain("| [1](cycle_001_report.md) | ruff fix");
    expect(text).toContain("| cycle\\_001 | 0123456789ab |");
  });

  it("flags regressions, a failed convergence and missing measurements", () => {
    const text = renderCampaignReport(
      campaignData({
        stopReason: "MAX_CYCLES_REACHED",
        cyclesToConvergence: null,
        tests: { before: null, after: { passed: 9, total: 10 } },
        lintErrors: { before: null, after: null },
        harnessCoverage: null,
        packageCoverage: null,
        regressions: [{ gate: "golden", id: "hello/node_a", message: "row count 3 != 4" }],
        masterDiff: parseShortStat(""),
        improvementsPromoted: 0,
        promotions: [],
      }),
    );
    expect(metrics(text)).toEqual([
      ["Test pass rate", "not measured → 90.0% (9/10)", "❌"],
      ["Lint errors", "not measured", "—"],
      ["Convergence", "did not converge (MAX\\_CYCLES\\_REACHED)", "❌"],
      ["Master improvements", "0 promotions; 0 files, +0 −0", "❌"],
      ["Regressions", "1", "❌"],
    ]);
    expect(text).toContain("### Regressions");
    expect(text).toContain("- golden: hello/node\\_a — row count 3 \\!= 4");
    expect(text).toContain("Nothing: this campaign promoted no change.");
    expect(text).not.toContain("Harness coverage"); // not measured: not shown
    expect(text).not.toContain("Harnesses passing");
  });

  it("lists the open items no approach of the campaign could take (left for a model or a human)", () => {
    const waiting = {
      total: 31,
      items: [{ title: `NotImplementedError in x ${HOSTILE}`, kind: "discovered", target: "odibi/x.py:3" }],
    };
    const text = renderCampaignReport(campaignData({ waiting }));
    expect(headings(text)).toContain("h2 Left for a model or a human");
    expect(text).toContain("31 open items no fixer can take");
    expect(text).toContain("- … and 30 more");
    expect(count(text, "html_block") + count(text, "html_inline")).toBe(0);
    expect(renderCampaignReport(campaignData())).not.toContain("Left for a model");
  });

  it("with an LLM: what each promotion's cycle spent, and the cost per promotion", () => {
    const promotion = campaignData().promotions[0]!;
    const text = renderCampaignReport(
      campaignData({
        improvementsPromoted: 2,
        promotions: [
          { ...promotion, llm: { tokens: 1200, costUsd: 0.0125 } },
          { ...promotion, cycle: 3, title: "ruff fix" },
        ],
        llm: { tokens: 3000, costUsd: 0.03 },
      }),
    );
    expect(text).toContain("- LLM: 3000 tokens, $0.0300; $0.0150 per promotion");
    expect(text).toContain("| commit | at | LLM spend |");
    expect(text).toContain("| 2025-12-16T22:10:00Z | 1200 tokens, $0.0125 |");
    expect(text).toContain("| 2025-12-16T22:10:00Z | none |");
    expect(
      renderCampaignReport(
        campaignData({ improvementsPromoted: 0, promotions: [], llm: { tokens: 50, costUsd: 0 } }),
      ),
    ).toContain("- LLM: 50 tokens, $0.0000; no promotion");
    // Without an LLM the table has no spend column.
    expect(renderCampaignReport(campaignData())).toContain("| snapshot | commit | at |\n");
  });
});

describe("markdown helpers and metrics", () => {
  it("escapes inline text and fences any content", () => {
    expect(escapeInline("- a *b*\n# c | d")).toBe("\\- a \\*b\\* \\# c \\| d");
    expect(escapeInline("1. x")).toBe("1\\. x");
    expect(escapeInline("x".repeat(10), 5)).toBe("xxxx…");
    const f = fenced("a\n````\nb");
    expect(f.startsWith("`````\n")).toBe(true);
    expect(tokens(f).filter((t) => t.type === "fence")[0]!.content).toBe("a\n````\nb\n");
  });

  it("computes gate summaries, pass rates, regressions and flaky checks", () => {
    const mk = (statuses: Record<string, string>, gate = "tests"): GateResult => ({
      treeHash: "t",
      startedAt: "",
      durationMs: 1,
      runs: [
        {
          gate,
          durationMs: 5,
          checks: Object.entries(statuses).map(([id, status]) => ({ gate, id, status: status as "pass" })),
        },
      ],
    });
    const before = mk({ a: "pass", b: "pass", c: "fail", d: "flaky" });
    const after = mk({ a: "pass", b: "fail", c: "pass", d: "flaky", e: "skip" });
    expect(summariseGates(after)).toEqual([
      { gate: "tests", passed: 2, failed: 1, skipped: 1, flaky: 1, durationMs: 5 },
    ]);
    expect(summariseGates(null)).toBeNull();
    expect(passCount(after, "tests")).toEqual({ passed: 2, total: 3 });
    expect(passCount(after, "lint")).toBeNull();
    expect(regressions(before, after).map((r) => r.id)).toEqual(["b"]);
    expect(flakyChecks([before, after, mk({ z: "flaky" })])).toEqual([
      { gate: "tests", id: "d", occurrences: 2 },
      { gate: "tests", id: "z", occurrences: 1 },
    ]);
    expect(parseShortStat(" 1 file changed, 1 insertion(+)")).toEqual({
      filesChanged: 1,
      insertions: 1,
      deletions: 0,
    });
  });

  it("writes reports under <root>/reports and refuses odd names and Sacred", () => {
    const root = tempDir();
    const sacred = path.join(root, "sacred");
    mkdirSync(sacred);
    const guard = new SacredGuard(sacred);
    expect(cycleReportName(7)).toBe("cycle_007_report.md");
    expect(campaignReportName("c 1/x")).toBe("campaign_c_1_x_report.md");
    const file = writeReport(guard, root, cycleReportName(7), "# hi\n");
    expect(file).toBe(path.join(root, "reports", "cycle_007_report.md"));
    expect(readFileSync(file, "utf8")).toBe("# hi\n");
    // The HTML twin: raw HTML from untrusted text stays text; links to other reports point at their HTML.
    writeReport(guard, root, "c.md", "# C\\_1\n\n<script>x()</script> [7](cycle_007_report.md)\n");
    const html = readFileSync(path.join(root, "reports", "c.html"), "utf8");
    expect(html).toContain("<title>C_1</title>");
    expect(html).toContain("&lt;script&gt;x()&lt;/script&gt;");
    expect(html).not.toContain("<script>");
    expect(html).toContain('<a href="cycle_007_report.html">7</a>');
    expect(() => writeReport(guard, root, "../x.md", "")).toThrow(/plain file name/);
    expect(() => writeReport(guard, sacred, "a.md", "")).toThrow(/Sacred/);
  });
});

describe("markdownForTerminal", () => {
  it("undoes escapes and shows link targets outside code fences, and leaves fences as they are", () => {
    expect(
      markdownForTerminal(
        "- Status: **x** (MAX\\_CYCLES\\_REACHED) \\(a\\)\n[1](cycle_001_report.md)\n```\na\\_b\n```\nc\\_d",
      ),
    ).toBe("- Status: **x** (MAX_CYCLES_REACHED) (a)\n1 (cycle_001_report.md)\n```\na\\_b\n```\nc_d");
  });
});

describe("describeHours", () => {
  it("says seconds, minutes or hours as people read them", () => {
    expect(describeHours(11 / 3600)).toBe("11 s");
    expect(describeHours(17 / 60)).toBe("17 min");
    expect(describeHours(3.25)).toBe("3.25 h");
    expect(describeHours(-1)).toBe("0 s");
  });
});
