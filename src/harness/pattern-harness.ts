import { baseTable, ROLE_COLUMNS as C, type Table } from "./data.js";
import type { PatternInfo } from "./introspect.js";
import { columnFor } from "./params.js";
import {
  csvFiles,
  type Expectation,
  type Harness,
  type NodeSpec,
  OUT,
  outputOf,
  projectConfig,
  readNode,
  writing,
} from "./project.js";

/**
 * Pattern harnesses. Patterns declare only their parameter names (`required_params`, `optional_params`), not their
 * shapes, so a known pattern gets a scenario with stated results (below) and any other pattern odibi lists gets a
 * generic one from its required parameter names.
 */

export interface Scenario {
  description: string;
  pipelines: { pipeline: string; nodes: NodeSpec[] }[];
  tables: Record<string, Table>;
  expectations: Expectation[];
  covers: string[];
}

const KEY = C.key;

/** A pattern node; `selfWriting` patterns (scd2, merge: odibi's contract) write their target and get no `write:`. */
function patternNode(
  name: string,
  file: string | undefined,
  type: string,
  params: object,
  selfWriting = false,
): NodeSpec {
  const spec = { pattern: { type, params } };
  const node = file ? readNode(name, file, spec) : { name, ...spec };
  return selfWriting ? node : writing(node);
}

function dimensionScenario(): Scenario {
  const node = "h_dim_customer";
  return {
    description:
      "dimension (SCD1) with an unknown member: 12 customers + the unknown row, unique surrogate keys",
    tables: { "base.csv": baseTable() },
    pipelines: [
      {
        pipeline: "harness",
        nodes: [
          patternNode(node, "base.csv", "dimension", {
            natural_key: KEY,
            surrogate_key: "customer_sk",
            scd_type: 1,
            track_cols: [C.text, C.text2],
            unknown_member: true,
          }),
        ],
      },
    ],
    expectations: [
      {
        node,
        output: outputOf(node),
        why: "12 customers and the unknown member (surrogate key 0); no duplicate surrogate or natural keys",
        rows: 13,
        columns: ["customer_sk", KEY],
        unique: ["customer_sk"],
        contains: [{ column: "customer_sk", value: 0 }],
        notNull: ["customer_sk"],
      },
    ],
    covers: ["dimension"],
  };
}

function dateDimensionScenario(start = "2024-01-01", end = "2024-12-31", days = 366): Scenario {
  const node = "h_dim_date";
  return {
    description: `date dimension ${start} → ${end}: ${days} days, one row per date, unique date_sk`,
    tables: {},
    pipelines: [
      {
        pipeline: "harness",
        nodes: [patternNode(node, undefined, "date_dimension", { start_date: start, end_date: end })],
      },
    ],
    expectations: [
      {
        node,
        output: outputOf(node),
        why: `${days} calendar days from ${start} to ${end} inclusive`,
        rows: days,
        columns: ["date_sk", "full_date"],
        unique: ["date_sk"],
        notNull: ["date_sk", "full_date"],
      },
    ],
    covers: ["date_dimension"],
  };
}

function orders(): Table {
  const rows = [1, 2, 3, 4, 5].map((i) => ({
    order_id: i,
    [KEY]: i === 5 ? "C999" : `C00${i}`,
    quantity: i,
    amount: i * 5.5,
    order_date: `2024-02-0${i}`,
  }));
  return { columns: Object.keys(rows[0]!), rows };
}

function factScenario(): Scenario {
  const fact = "h_fact_orders";
  const dim = "h_dim_customer";
  return {
    description:
      "fact with a dimension lookup: 4 orders find their customer, the orphan (C999) gets the unknown key 0",
    tables: { "base.csv": baseTable(), "orders.csv": orders() },
    pipelines: [
      {
        pipeline: "harness",
        nodes: [
          patternNode(dim, "base.csv", "dimension", {
            natural_key: KEY,
            surrogate_key: "customer_sk",
            scd_type: 1,
            track_cols: [C.text],
            unknown_member: true,
          }),
          patternNode(fact, "orders.csv", "fact", {
            grain: ["order_id"],
            dimensions: [
              { source_column: KEY, dimension_table: dim, dimension_key: KEY, surrogate_key: "customer_sk" },
            ],
            orphan_handling: "unknown",
            measures: ["quantity", "amount"],
          }),
        ].map((n) => (n.name === fact ? { ...n, depends_on: [dim] } : n)),
      },
    ],
    expectations: [
      {
        node: fact,
        output: outputOf(fact),
        why: "5 orders at the grain order_id; every order has a customer_sk, the orphan's is 0",
        rows: 5,
        columns: ["customer_sk", "quantity", "amount"],
        unique: ["order_id"],
        notNull: ["customer_sk"],
        contains: [{ column: "customer_sk", value: 0 }],
      },
    ],
    covers: ["fact", "dimension"],
  };
}

/** Two loads of the same keys: C001 unchanged, C002 changed, C003 only in the first, C004 new in the second. */
export function historyTables(): { first: Table; second: Table } {
  const row = (k: string, name: string, at: string) => ({
    [KEY]: k,
    name,
    email: `${k}@example.com`,
    updated_at: at,
  });
  const cols = [KEY, "name", "email", "updated_at"];
  return {
    first: {
      columns: cols,
      rows: [
        row("C001", "Ann", "2024-01-01 00:00:00"),
        row("C002", "Bob", "2024-01-01 00:00:00"),
        row("C003", "Cy", "2024-01-01 00:00:00"),
      ],
    },
    second: {
      columns: cols,
      rows: [
        row("C001", "Ann", "2024-02-01 00:00:00"),
        row("C002", "Bobby", "2024-02-01 00:00:00"),
        row("C004", "Dee", "2024-02-01 00:00:00"),
      ],
    },
  };
}

/**
 * Two loads into one target. scd2 and merge write their target themselves (odibi: "No separate write: block is
 * needed"); a `write:` to the same path would overwrite the history with the node's returned frame.
 */
function twoLoads(type: string, params: object, node: string): Scenario["pipelines"] {
  return [
    { pipeline: "load_1", nodes: [patternNode(node, "first.csv", type, params, true)] },
    { pipeline: "load_2", nodes: [patternNode(node, "second.csv", type, params, true)] },
  ];
}

function scd2Scenario(): Scenario {
  const node = "h_dim_scd2";
  const { first, second } = historyTables();
  const params = {
    keys: [KEY],
    target: `${OUT}.${outputOf(node)}`,
    track_cols: ["name", "email"],
    effective_time_col: "updated_at",
  };
  return {
    description:
      "SCD2 over two loads: C001 unchanged, C002 changed (a closed and a current version), C003 kept, C004 new",
    tables: { "first.csv": first, "second.csv": second },
    pipelines: twoLoads("scd2", params, node),
    expectations: [
      {
        node,
        output: outputOf(node),
        why: "5 versions: C001, C002 (old, closed), C002 (new), C003, C004; one current version per key",
        rows: 5,
        scd2: {
          keys: [KEY],
          validFrom: "valid_from",
          validTo: "valid_to",
          current: "is_current",
          currentRows: 4,
        },
        contains: [{ column: "name", value: "Bobby" }],
      },
    ],
    covers: ["scd2"],
  };
}

function mergeScenario(): Scenario {
  const node = "h_merged";
  const { first, second } = historyTables();
  const params = { keys: [KEY], target: `${OUT}.${outputOf(node)}` };
  return {
    description: "merge (upsert) of a second load into the first: 4 keys, C002 updated, C004 inserted",
    tables: { "first.csv": first, "second.csv": second },
    pipelines: twoLoads("merge", params, node),
    expectations: [
      {
        node,
        output: outputOf(node),
        why: "upsert by customer_id: C001..C004 once each, C002's name is the second load's",
        rows: 4,
        unique: [KEY],
        values: { column: "name", equals: ["Ann", "Bobby", "Cy", "Dee"] },
      },
    ],
    covers: ["merge"],
  };
}

function aggregationScenario(): Scenario {
  const node = "h_agg";
  return {
    description: "aggregation by category: 3 groups, total amount and row count per group",
    tables: { "base.csv": baseTable() },
    pipelines: [
      {
        pipeline: "harness",
        nodes: [
          patternNode(node, "base.csv", "aggregation", {
            grain: [C.group],
            measures: [
              { name: "total_amount", expr: `SUM(${C.numeric})` },
              { name: "n_rows", expr: "COUNT(*)" },
            ],
          }),
        ],
      },
    ],
    expectations: [
      {
        node,
        output: outputOf(node),
        why: "one row per category (A, B, C), 4 input rows each",
        rows: 3,
        unique: [C.group],
        columns: ["total_amount", "n_rows"],
        values: { column: "n_rows", equals: [4, 4, 4] },
      },
    ],
    covers: ["aggregation"],
  };
}

/** A pattern odibi lists that has no scenario here: its required parameters from their names. */
function genericScenario(p: PatternInfo): Scenario {
  const node = `h_${p.name}`;
  const params = Object.fromEntries(
    p.required.map((r) => [
      r,
      /target|path/.test(r) ? `${OUT}.${node}_target.parquet` : /s$/.test(r) ? [columnFor(r)] : columnFor(r),
    ]),
  );
  return {
    description: `${p.name}: required parameters ${p.required.join(", ") || "(none)"} filled from their names`,
    tables: { "base.csv": baseTable() },
    pipelines: [{ pipeline: "harness", nodes: [patternNode(node, "base.csv", p.name, params)] }],
    expectations: [{ node, output: outputOf(node), why: "the node writes a readable output", minColumns: 1 }],
    covers: [p.name],
  };
}

export const PATTERN_SCENARIOS: Record<string, () => Scenario> = {
  dimension: dimensionScenario,
  date_dimension: () => dateDimensionScenario(),
  fact: factScenario,
  scd2: scd2Scenario,
  merge: mergeScenario,
  aggregation: aggregationScenario,
};

export function scenarioHarness(name: string, kind: Harness["kind"], subject: string, s: Scenario): Harness {
  return {
    name,
    kind,
    subject,
    description: s.description,
    config: projectConfig(
      name,
      s.pipelines,
      `Harness ${name} (generated by odibi-improve harness).\n${s.description}`,
    ),
    files: csvFiles(s.tables),
    expectations: s.expectations,
    covers: s.covers,
  };
}

export function patternHarness(p: PatternInfo): Harness {
  const scenario = PATTERN_SCENARIOS[p.name]?.() ?? genericScenario(p);
  return scenarioHarness(`pattern_${p.name}`, "pattern", p.name, scenario);
}

export { dateDimensionScenario, dimensionScenario, factScenario, scd2Scenario };
