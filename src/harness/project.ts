import { stringify } from "yaml";
import { type Table, toCsv } from "./data.js";

/**
 * One harness: a complete odibi project (local connections, story on) with its own input data, and what its
 * output must be. Written to `<root>/golden/harness/<name>/` (see write.ts).
 */

export type HarnessKind = "transformer" | "pattern" | "edge";

/** What one node's written output must be, checked by reading the output file (see expect.ts). */
export interface Expectation {
  node: string;
  /** Output file under the `out` connection (`data/out/` in the run folder). */
  output: string;
  /** Why (shown with a failure). */
  why: string;
  rows?: number;
  minRows?: number;
  columns?: string[];
  minColumns?: number;
  /** No two rows share these columns' values. */
  unique?: string[];
  /** Some row has this value in this column. */
  contains?: { column: string; value: string | number | boolean }[];
  /** Exactly these values, in any order, in this column. */
  values?: { column: string; equals: (string | number | null)[] };
  /** Columns that must be null / not null on every row. */
  allNull?: string[];
  notNull?: string[];
  /** SCD2 history: one current row per key, closed rows have an end, no overlapping windows. */
  scd2?: { keys: string[]; validFrom: string; validTo: string; current: string; currentRows: number };
}

export interface Harness {
  name: string;
  kind: HarnessKind;
  /** The transformer, pattern or edge case it covers. */
  subject: string;
  description: string;
  /** `odibi.yaml`. */
  config: string;
  /** Input files under `data/in/`, by name. */
  files: Record<string, string>;
  expectations: Expectation[];
  /** The transformers and patterns it exercises (for coverage). */
  covers: string[];
}

export type NodeSpec = Record<string, unknown> & { name: string };

export const OUT = "out";
export const SRC = "src";

/**
 * A node that reads an input CSV of the harness. CSV has no types: `parseDates` (pandas' `parse_dates`, which odibi
 * passes on) makes its date and timestamp columns dates, as a typed source would give them.
 */
export function readNode(
  name: string,
  file: string,
  extra: Record<string, unknown> = {},
  parseDates: readonly string[] = [],
): NodeSpec {
  const options = { header: true, ...(parseDates.length ? { parse_dates: [...parseDates] } : {}) };
  return { name, read: { connection: SRC, format: "csv", path: file, options }, ...extra };
}

/** Where a node writes (parquet under `data/out/`), added to its spec. */
export function writing(node: NodeSpec): NodeSpec {
  return {
    ...node,
    write: { connection: OUT, format: "parquet", path: outputOf(node.name), mode: "overwrite" },
  };
}

export function outputOf(node: string): string {
  return `${node}.parquet`;
}

/** The project config: inputs in `data/in` (read in place), outputs, stories and the system catalog in `data/out`. */
export function projectConfig(
  name: string,
  pipelines: { pipeline: string; nodes: NodeSpec[] }[],
  header: string,
): string {
  const doc = {
    project: name,
    engine: "pandas",
    connections: {
      [SRC]: { type: "local", base_path: "./data/in" },
      [OUT]: { type: "local", base_path: "./data/out" },
    },
    story: { connection: OUT, path: "stories" },
    // Synchronous system updates: see docs/odibi.md (exit 134 after success otherwise).
    system: { connection: OUT, path: "_system", async_derived_updates: false },
    pipelines: pipelines.map((p) => ({ pipeline: p.pipeline, layer: "harness", nodes: p.nodes })),
  };
  const comment = header
    .split("\n")
    .map((l) => `# ${l}`.trimEnd())
    .join("\n");
  // YAML 1.1 quoting: odibi reads configs with PyYAML, to which a bare `on`, `yes` or `no` is a boolean.
  return `${comment}\n${stringify(doc, { lineWidth: 0, version: "1.1" })}`;
}

export function csvFiles(tables: Record<string, Table>): Record<string, string> {
  return Object.fromEntries(Object.entries(tables).map(([f, t]) => [f, toCsv(t)]));
}
