import { baseTable, ROLE_COLUMNS as C, DATE_COLUMNS, type Row, type Table } from "./data.js";
import type { OdibiIntrospection } from "./introspect.js";
import { CONDITION, OTHER_NODE } from "./params.js";
import {
  dateDimensionScenario,
  dimensionScenario,
  factScenario,
  type Scenario,
  scd2Scenario,
  scenarioHarness,
} from "./pattern-harness.js";
import { type Expectation, type Harness, type NodeSpec, outputOf, readNode, writing } from "./project.js";
import { transformerParams } from "./transformer-harness.js";

/** The edge cases every odibi gets a harness for. */
export const EDGE_CASES = [
  "empty_data",
  "all_nulls",
  "type_mismatch",
  "unicode",
  "wide_schema",
  "scd2_rerun_unchanged",
  "dimension_unknown_member_only",
  "fact_orphans",
  "date_dimension_leap_years",
] as const;
export type EdgeCase = (typeof EDGE_CASES)[number];

/**
 * The transformers the data edge cases run: those of odibi's core modules (sql_core, relational, advanced) whose
 * harness needs no second dataset. Taken from the introspection, so a new core transformer is included.
 */
export const EDGE_MODULES = /\.(sql_core|relational|advanced)$/;

const PASS = "h_passthrough";

function edgeTable(c: EdgeCase): Table {
  const base = baseTable();
  const map = (f: (r: Row, i: number) => Row): Table => ({ columns: base.columns, rows: base.rows.map(f) });
  switch (c) {
    case "empty_data":
      return { columns: base.columns, rows: [] };
    case "all_nulls":
      return map((r) => ({ ...r, [C.text]: null, [C.text2]: null, [C.numeric]: null }));
    case "type_mismatch":
      return map((r, i) => ({
        ...r,
        [C.numeric]: i % 3 === 0 ? "n/a" : r[C.numeric]!,
        [C.date]: i === 1 ? "not a date" : r[C.date]!,
      }));
    case "unicode": {
      const t = map((r, i) => ({
        ...r,
        [C.text]: `Zoë ${["名前", "Ωμέγα", "🚀", "Ünïcödé"][i % 4]} ${i}`,
        naïve_名前: `ü${i}`,
      }));
      return { columns: [...base.columns, "naïve_名前"], rows: t.rows };
    }
    default: {
      const extra = Array.from({ length: 120 }, (_, i) => `col_${String(i).padStart(3, "0")}`);
      const rows = base.rows.map((r, j) => ({
        ...r,
        ...Object.fromEntries(extra.map((e, i) => [e, i * j])),
      }));
      return { columns: [...base.columns, ...extra], rows };
    }
  }
}

function passthroughExpectation(c: EdgeCase, t: Table): Expectation {
  const e: Expectation = {
    node: PASS,
    output: outputOf(PASS),
    why: "",
    rows: t.rows.length,
    columns: t.columns,
  };
  if (c === "empty_data") e.why = "an empty input (header only) is written as 0 rows with its columns";
  if (c === "all_nulls")
    Object.assign(e, { allNull: [C.text, C.text2, C.numeric], why: "null columns stay null" });
  if (c === "type_mismatch") e.why = "text in a numeric column is kept, no row lost";
  if (c === "unicode")
    Object.assign(e, {
      values: { column: C.text, equals: t.rows.map((r) => r[C.text] as string) },
      why: "unicode column names and values round-trip unchanged",
    });
  if (c === "wide_schema")
    Object.assign(e, { minColumns: t.columns.length, why: `all ${t.columns.length} columns are written` });
  return e;
}

function dataEdge(c: EdgeCase, intro: OdibiIntrospection): Scenario {
  const t = edgeTable(c);
  // Text in a date column (type_mismatch) is the point of that case: its dates stay unparsed.
  const dates = c === "type_mismatch" ? [] : DATE_COLUMNS;
  const nodes: NodeSpec[] = [writing(readNode(PASS, "edge.csv", {}, dates))];
  const expectations = [passthroughExpectation(c, t)];
  const covers: string[] = [];
  for (const tr of intro.transformers.filter((x) => EDGE_MODULES.test(x.module))) {
    const params = transformerParams(tr, intro.paramChoice[tr.name]);
    if (JSON.stringify(params).includes(OTHER_NODE)) continue;
    const node = `h_${tr.name}`;
    nodes.push(writing(readNode(node, "edge.csv", { transformer: tr.name, params }, dates)));
    covers.push(tr.name);
    const zero = c === "empty_data" || (c === "all_nulls" && params.condition === CONDITION.sql);
    expectations.push({
      node,
      output: outputOf(node),
      why: zero
        ? "no input row (or none passing the condition) gives no output row"
        : "the node writes a readable output",
      ...(zero ? { rows: 0 } : { minColumns: 1 }),
    });
  }
  return {
    description: `${c.replace(/_/g, " ")}: a pass-through node and ${covers.length} core transformers on the same input`,
    tables: { "edge.csv": t },
    pipelines: [{ pipeline: "harness", nodes }],
    expectations,
    covers,
  };
}

function scd2Rerun(): Scenario {
  const s = scd2Scenario();
  const load2 = s.pipelines[1]!;
  s.pipelines.push({ pipeline: "load_3", nodes: load2.nodes });
  s.description = "SCD2 with the second load sent twice: the repeat adds no version (same 5 rows, 4 current)";
  return s;
}

function dimensionUnknownOnly(): Scenario {
  const s = dimensionScenario();
  s.tables = { "base.csv": { columns: baseTable().columns, rows: [] } };
  s.description =
    "dimension over an empty input with unknown_member: exactly the unknown row (surrogate key 0)";
  s.expectations = [{ ...s.expectations[0]!, rows: 1, why: "only the unknown member, surrogate key 0" }];
  return s;
}

function factOrphans(): Scenario {
  const s = factScenario();
  s.description = "fact whose every order is an orphan: all get the unknown member's key 0, none dropped";
  const rows = s.tables["orders.csv"]!.rows.map((r) => ({ ...r, [C.key]: `X${r.order_id}` }));
  s.tables["orders.csv"] = { ...s.tables["orders.csv"]!, rows };
  s.expectations = [
    {
      ...s.expectations[0]!,
      values: { column: "customer_sk", equals: [0, 0, 0, 0, 0] },
      why: "5 orphans, key 0",
    },
  ];
  return s;
}

const LEAP = { start: "2023-02-01", end: "2025-03-01" };

/** Calendar days from `start` to `end`, both included (UTC dates). */
export function daysInclusive(start: string, end: string): number {
  return Math.round((Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / 86_400_000) + 1;
}

/** The harness for one edge case. */
export function edgeHarness(c: EdgeCase, intro: OdibiIntrospection): Harness {
  const scenario: Scenario =
    c === "scd2_rerun_unchanged"
      ? scd2Rerun()
      : c === "dimension_unknown_member_only"
        ? dimensionUnknownOnly()
        : c === "fact_orphans"
          ? factOrphans()
          : c === "date_dimension_leap_years"
            ? dateDimensionScenario(LEAP.start, LEAP.end, daysInclusive(LEAP.start, LEAP.end))
            : dataEdge(c, intro);
  if (c === "date_dimension_leap_years") {
    scenario.description = `date dimension ${LEAP.start} → ${LEAP.end}, across 29 Feb 2024: ${scenario.expectations[0]!.rows} days`;
    scenario.expectations[0]!.contains = [{ column: "date_sk", value: 20240229 }];
  }
  return scenarioHarness(`edge_${c}`, "edge", c, scenario);
}
