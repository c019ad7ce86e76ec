import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { coverageTasks } from "../src/campaign/coverage-work.js";
import { planCycle } from "../src/campaign/plan-cycle.js";
import type { GateResult } from "../src/core/types.js";
import {
  type CoverageStore,
  coverageSummary,
  moduleOf,
  subjectCoverage,
  transformerRegions,
} from "../src/harness/coverage.js";
import { parseIntrospection } from "../src/harness/introspect.js";
import type { FileCoverage, Region } from "../src/profiles/python/coverage.js";
import { regionStats } from "../src/profiles/python/coverage.js";

/**
 * Coverage per module and per transformer / pattern, mapped through the recorded introspection of the real odibi
 * 3.15.1 (tests/fixtures, checked in for the harness tests), and the coverage tier of find-work.
 */
const FIXTURE = path.join(import.meta.dirname, "fixtures", "odibi-3.15.1-introspection.json");
const intro = parseIntrospection(`ODIBI_INTROSPECTION_BEGIN\n${readFileSync(FIXTURE, "utf8")}`);

/** A region: lines `from..to`, the first `ran` of them executed; `branches` [taken, not taken]. */
function region(from: number, to: number, ran: number, branches: [number, number] = [0, 0]): Region {
  const lines = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const pair = (i: number): [number, number] => [from, from + i + 1];
  return {
    executed: lines.slice(0, ran),
    missing: lines.slice(ran),
    executedBranches: Array.from({ length: branches[0] }, (_, i) => pair(i)),
    missingBranches: Array.from({ length: branches[1] }, (_, i) => pair(branches[0] + i)),
  };
}

function file(
  name: string,
  functions: Record<string, Region>,
  classes: Record<string, Region> = {},
): FileCoverage {
  const all = Object.values(functions);
  const r: Region = {
    executed: all.flatMap((x) => x.executed),
    missing: all.flatMap((x) => x.missing),
    executedBranches: all.flatMap((x) => x.executedBranches),
    missingBranches: all.flatMap((x) => x.missingBranches),
  };
  const st = regionStats(r);
  return {
    file: name,
    ...r,
    statements: st.statements,
    branches: { covered: st.coveredBranches, total: st.branches },
    percent: st.percent,
    functions,
    classes,
  };
}

// odibi 3.15.1's own layout: scd2 and its private helpers in scd.py, filter_rows in sql_core.py, SCD2Pattern.
const FILES: Record<string, FileCoverage> = {
  "odibi/transformers/scd.py": file("odibi/transformers/scd.py", {
    "SCD2Params.check_target_or_connection": region(116, 123, 8),
    scd2: region(125, 274, 100, [3, 1]),
    _get_timestamp_type: region(277, 308, 32),
    _scd2_spark: region(310, 550, 0),
    _scd2_pandas: region(746, 1017, 200, [10, 10]),
    "_scd2_pandas.has_changed": region(933, 940, 8),
  }),
  "odibi/transformers/sql_core.py": file("odibi/transformers/sql_core.py", {
    filter_rows: region(37, 110, 74),
    limit: region(500, 530, 10),
  }),
  "odibi/patterns/scd2.py": file(
    "odibi/patterns/scd2.py",
    { "SCD2Pattern.execute": region(10, 49, 10) },
    {
      SCD2Pattern: region(10, 49, 10),
    },
  ),
  "odibi/__init__.py": file("odibi/__init__.py", { "": region(1, 3, 3) }),
};

describe("coverage per transformer and pattern, through the recorded introspection", () => {
  it("maps a transformer to its function, its nested functions and its private helpers", () => {
    const fns = FILES["odibi/transformers/scd.py"]!.functions;
    expect(transformerRegions("scd2", fns).sort()).toEqual([
      "_scd2_pandas",
      "_scd2_pandas.has_changed",
      "_scd2_spark",
      "scd2",
    ]);
    expect(transformerRegions("limit", FILES["odibi/transformers/sql_core.py"]!.functions)).toEqual([
      "limit",
    ]);
  });

  it("gives each measured transformer and pattern of odibi 3.15.1 its rows", () => {
    const rows = subjectCoverage(intro, FILES);
    const by = Object.fromEntries(rows.map((r) => [`${r.kind}:${r.name}`, r]));
    // Only the subjects whose module was measured (the fixture's modules for scd2, filter_rows, limit, the pattern).
    expect(Object.keys(by).sort()).toEqual([
      "pattern:scd2",
      "transformer:filter_rows",
      "transformer:limit",
      "transformer:scd2",
    ]);
    expect(by["transformer:scd2"]).toMatchObject({
      file: "odibi/transformers/scd.py",
      statements: 150 + 241 + 272 + 8,
      covered: 100 + 0 + 200 + 8,
      branches: 24,
      coveredBranches: 13,
    });
    expect(by["transformer:filter_rows"]!.percent).toBe(100);
    expect(by["transformer:limit"]!.percent).toBe(32.3);
    expect(by["pattern:scd2"]).toMatchObject({
      file: "odibi/patterns/scd2.py",
      regions: ["SCD2Pattern"],
      percent: 25,
    });
    expect(intro.transformers.find((t) => t.name === "scd2")!.module).toBe("odibi.transformers.scd");
  });

  it("per module, named by its import path", () => {
    expect(moduleOf("odibi/transformers/scd.py")).toBe("odibi.transformers.scd");
    expect(moduleOf("odibi/__init__.py")).toBe("odibi");
    const store: CoverageStore = {
      source: ["odibi"],
      tests: { treeHash: "t", measuredAt: "now", durationMs: 1, pytestExit: 0, files: FILES },
    };
    const s = coverageSummary(store, intro);
    expect(s.measuredBy).toMatch(/^tests only/);
    expect(s.modules.map((m) => m.name)).toEqual([
      "odibi",
      "odibi.patterns.scd2",
      "odibi.transformers.scd",
      "odibi.transformers.sql_core",
    ]);
  });
});

describe("coverage gaps as find-work's last tier", () => {
  const store: CoverageStore = {
    source: ["odibi"],
    tests: { treeHash: "t", measuredAt: "now", durationMs: 1, pytestExit: 0, files: FILES },
  };
  const tasks = coverageTasks(coverageSummary(store, intro));

  it("least covered first, targets the source file, names the uncovered lines; full coverage is no task", () => {
    expect(tasks.map((t) => t.signature)).toEqual([
      "coverage:pattern:scd2",
      "coverage:module:odibi/patterns/scd2.py",
      "coverage:transformer:limit",
      "coverage:transformer:scd2",
      "coverage:module:odibi/transformers/scd.py",
      "coverage:module:odibi/transformers/sql_core.py",
    ]);
    const limit = tasks.find((t) => t.signature === "coverage:transformer:limit")!;
    expect(limit).toMatchObject({ kind: "coverage", target: "odibi/transformers/sql_core.py", line: 510 });
    expect(limit.detail).toContain("Lines no test or harness runs: 510-530.");
    expect(limit.title).toBe(
      "coverage gap: transformer limit (odibi/transformers/sql_core.py) at 32.3% (10/31 lines, 0/0 branches)",
    );
  });

  it("comes after every other tier, and is taken when it is all there is", () => {
    const green: GateResult = { treeHash: "t", startedAt: "now", durationMs: 1, runs: [] };
    const base = {
      baseline: green,
      discovered: [],
      memory: { shouldAvoid: () => false, failedApproaches: () => [] },
      fixers: () => [],
      llm: "model",
    };
    expect(planCycle(base).pick).toBeNull();
    expect(planCycle({ ...base, coverageTasks: tasks }).pick!.task.signature).toBe("coverage:pattern:scd2");
    const failing: GateResult = {
      ...green,
      runs: [
        {
          gate: "tests",
          command: "pytest",
          durationMs: 1,
          checks: [{ gate: "tests", id: "t::a", status: "fail" }],
        },
      ],
    };
    expect(planCycle({ ...base, baseline: failing, coverageTasks: tasks }).pick!.task.kind).toBe("failure");
  });
});
