import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseDocument } from "yaml";
import { harnessOfTarget, harnessTask, listWork } from "../src/campaign/find-work.js";
import { planCycle } from "../src/campaign/plan-cycle.js";
import type { Check, GateResult } from "../src/core/types.js";
import { daysInclusive, EDGE_CASES } from "../src/harness/edge-harness.js";
import { HarnessGenerator, statesResult } from "../src/harness/generator.js";
import { IntrospectionError, parseIntrospection } from "../src/harness/introspect.js";
import { fillValue, paramCandidates } from "../src/harness/params.js";
import {
  findingsOf,
  mergeHarnessReports,
  minimalConfig,
  readHarnessReport,
  resolveFinding,
  transformerCoverage,
  writeHarnessReport,
} from "../src/harness/run.js";
import { renderHarnessSummary } from "../src/harness/summary.js";
import { harnessDir, harnessReadme } from "../src/harness/write.js";
import { storyFailure } from "../src/profiles/odibi/golden-gate.js";
import { odibiGateFingerprint } from "../src/profiles/odibi/golden-projects.js";
import { tempDir } from "./helpers.js";

/**
 * The generator on a recorded introspection of the real odibi 3.15.1 (made by `odibi-improve harness generate` on
 * its sdist, jailed; `paramChoice` is what odibi's own validation accepted).
 */
const FIXTURE = path.join(import.meta.dirname, "fixtures", "odibi-3.15.1-introspection.json");
const intro = parseIntrospection(`ODIBI_INTROSPECTION_BEGIN\n${readFileSync(FIXTURE, "utf8")}`);
const gen = new HarnessGenerator(intro);
const all = gen.generateAll();

type NodeYaml = {
  name: string;
  transformer?: string;
  params?: Record<string, unknown>;
  pattern?: { type: string };
};
const nodesOf = (config: string): NodeYaml[] =>
  (parse(config) as { pipelines: { nodes: NodeYaml[] }[] }).pipelines.flatMap((p) => p.nodes);

describe("HarnessGenerator on odibi 3.15.1's introspection", () => {
  it("covers every transformer and pattern odibi lists, and every edge case", () => {
    expect(intro.transformers.length).toBe(59);
    expect(intro.patterns.map((p) => p.name)).toEqual([
      "aggregation",
      "date_dimension",
      "dimension",
      "fact",
      "merge",
      "scd2",
    ]);
    for (const t of intro.transformers)
      expect(all.filter((h) => h.kind === "transformer" && h.subject === t.name)).toHaveLength(1);
    for (const p of intro.patterns)
      expect(all.some((h) => h.kind === "pattern" && h.subject === p.name)).toBe(true);
    expect(all.filter((h) => h.kind === "edge").map((h) => h.subject)).toEqual([...EDGE_CASES]);
    expect(new Set(all.map((h) => h.name)).size).toBe(all.length);
  });

  it("a transformer's harness is a complete project running it with the parameters odibi accepted", () => {
    const join = gen.generateTransformerTest("join");
    const doc = parse(join.config);
    expect(doc.connections.src).toEqual({ type: "local", base_path: "./data/in" });
    expect(doc.story).toEqual({ connection: "out", path: "stories" });
    expect(doc.system.async_derived_updates).toBe(false);
    const node = nodesOf(join.config).find((n) => n.transformer === "join")!;
    // JoinParams' validator wants `on` for a left join: the second candidate, chosen by odibi at introspection.
    expect(intro.paramChoice.join).toBe(1);
    expect(node.params).toMatchObject({ right_dataset: "h_other", on: ["name", "email"] });
    // PyYAML reads a bare `on` as True: the key is quoted.
    expect(join.config).toContain('"on":');
    expect(join.files["base.csv"]!.split("\n")[0]).toBe(
      "id,customer_id,name,email,category,amount,qty,event_date,updated_at,start_ts,end_ts,payload",
    );
    expect(join.files["base.csv"]!.split("\n")[1]).toContain(`"{""a"":1,""b"":""x1""}"`);
  });

  it("fills parameters the way odibi's contract asks (each was a harness finding that was the generator's fault)", () => {
    const params = (t: string) => nodesOf(gen.generateTransformerTest(t).config).at(-1)!.params!;
    // "String column containing JSON": the JSON column, not a name.
    expect(params("parse_json").column).toBe("payload");
    // A comparison of nodes needs two of them, both in the project.
    const cross = gen.generateTransformerTest("cross_check");
    expect(params("cross_check").inputs).toEqual(["h_other", "h_other2"]);
    expect(nodesOf(cross.config).map((n) => n.name)).toEqual(["h_other", "h_other2", "h_cross_check"]);
    // An aggregated column is numeric, not the pivot column itself.
    expect(params("pivot")).toMatchObject({ pivot_col: "name", agg_col: "amount" });
    // An optional column parameter whose default (`ts`) the data lacks is always filled.
    expect(params("detect_sequential_phases").timestamp_col).toBe("updated_at");
  });

  it("dates are dates: parsed on read, and a generic `col` of a date transformer is the date column", () => {
    const h = gen.generateTransformerTest("date_add");
    const doc = parse(h.config);
    const node = doc.pipelines[0].nodes[0];
    expect(node.params.col).toBe("event_date");
    expect(node.read.options.parse_dates).toEqual(["event_date", "updated_at", "start_ts", "end_ts"]);
    expect(nodesOf(gen.generateTransformerTest("convert_timezone").config)[0]!.params!.col).toBe(
      "updated_at",
    );
    expect(nodesOf(gen.generateTransformerTest("split_part").config)[0]!.params!.col).toBe("name");
    expect(nodesOf(gen.generateTransformerTest("extract_date_parts").config)[0]!.params!.source_col).toBe(
      "event_date",
    );
  });

  it("states results from the parameters' roles, not just 'it ran'", () => {
    const filter = gen.generateTransformerTest("filter_rows");
    expect(filter.expectations[0]).toMatchObject({ node: "h_filter_rows", rows: 8 });
    expect(gen.generateTransformerTest("case_when").expectations[0]!.columns).toEqual(["h_output_col"]);
    expect(gen.generateTransformerTest("derive_columns").expectations[0]!.columns).toEqual(["h_total"]);
    const scd2 = gen.generatePatternTest("scd2");
    expect(scd2.expectations[0]).toMatchObject({ rows: 5, scd2: { currentRows: 4, keys: ["customer_id"] } });
    // scd2 writes its own target (odibi's contract): no write block on its nodes.
    expect(nodesOf(scd2.config).every((n) => !("write" in n))).toBe(true);
    const dim = gen.generatePatternTest("dimension").expectations[0]!;
    expect(dim).toMatchObject({
      rows: 13,
      unique: ["customer_sk"],
      contains: [{ column: "customer_sk", value: 0 }],
    });
    const fact = gen.generatePatternTest("fact").expectations[0]!;
    expect(fact).toMatchObject({ rows: 5, notNull: ["customer_sk"] });
    // An aggregation with one grouping column: one row per group (3 categories in the base table).
    expect(gen.generateTransformerTest("aggregate").expectations[0]).toMatchObject({
      rows: 3,
      unique: ["category"],
    });
    expect(gen.generateTransformerTest("rename_columns").expectations[0]!.columns).toEqual(["h_name"]);
  });

  it("edge cases: empty, nulls, unicode, 100+ columns, leap years", () => {
    const empty = gen.generateEdgeCaseTest("empty_data");
    expect(empty.files["edge.csv"]!.trim().split("\n")).toHaveLength(1);
    expect(empty.expectations.every((e) => e.rows === 0)).toBe(true);
    expect(empty.covers).toContain("filter_rows");
    const unicode = gen.generateEdgeCaseTest("unicode");
    expect(unicode.files["edge.csv"]).toContain("naïve_名前");
    const wide = gen.generateEdgeCaseTest("wide_schema");
    expect(wide.expectations[0]!.minColumns).toBe(132);
    const leap = gen.generateEdgeCaseTest("date_dimension_leap_years").expectations[0]!;
    expect(leap.rows).toBe(760);
    expect(leap.contains).toEqual([{ column: "date_sk", value: 20240229 }]);
    expect(daysInclusive("2024-01-01", "2024-12-31")).toBe(366);
    expect(daysInclusive("2023-01-01", "2023-12-31")).toBe(365);
  });

  it("lists coverage gaps: a missing harness, and harnesses that state no result", () => {
    const gaps = gen.listCoverageGaps(all.filter((h) => h.subject !== "sort"));
    expect(gaps).toContainEqual({ kind: "transformer", subject: "sort", reason: "no harness" });
    expect(gaps).toContainEqual({ kind: "transformer", subject: "geocode", reason: "no stated result" });
    expect(gaps.some((g) => g.kind === "pattern")).toBe(false);
    expect(gaps.some((g) => g.subject === "filter_rows")).toBe(false);
    expect(statesResult({ node: "a", output: "a.parquet", why: "", minColumns: 1 })).toBe(false);
    const readme = harnessReadme(intro, all, gaps);
    expect(readme).toContain("| transformer_filter_rows | filter_rows |");
    expect(readme).toContain("- transformer `sort`: no harness");
  });

  it("unknown names are errors naming odibi's version", () => {
    expect(() => gen.generateTransformerTest("nope")).toThrow(/odibi 3\.15\.1 has no transformer nope/);
    expect(() => gen.generatePatternTest("nope")).toThrow(/no pattern nope/);
    expect(() => parseIntrospection("Traceback: ImportError")).toThrow(IntrospectionError);
  });
});

describe("parameters from a schema", () => {
  it("fills types, enums, nested models and maps by role", () => {
    const ctx = { defs: {} };
    expect(fillValue("unit", { enum: ["day", "month"], type: "string" }, ctx)).toBe("day");
    expect(fillValue("n", { type: "integer" }, ctx)).toBe(3);
    expect(fillValue("start_col", { type: "string" }, ctx)).toBe("start_ts");
    expect(fillValue("keys", { type: "array", items: { type: "string" } }, ctx)).toEqual(["customer_id"]);
    expect(
      fillValue("derivations", { type: "object", additionalProperties: { type: "string" } }, ctx),
    ).toEqual({
      h_total: "amount * qty",
    });
    const cases = { type: "array", items: { $ref: "#/$defs/Case" } };
    const defs = {
      Case: { type: "object", properties: { condition: { type: "string" } }, required: ["condition"] },
    };
    expect(fillValue("cases", cases, { defs })).toEqual([{ condition: "amount > 50" }]);
  });

  it("offers the required fields first, then each open optional field", () => {
    const c = paramCandidates({
      type: "object",
      properties: {
        a: { type: "string" },
        on: { type: "array", items: { type: "string" } },
        x: { type: "boolean", default: true },
      },
      required: ["a"],
    });
    expect(c[0]).toEqual({ a: "name" });
    expect(c[1]).toEqual({ a: "name", on: ["name", "email"] });
    expect(c.at(-1)).toEqual({ a: "name", x: true });
  });
});

describe("findings", () => {
  const config = gen.generatePatternTest("fact").config;
  it("the smallest config keeps the failing node and what it depends on", () => {
    const min = parseDocument(minimalConfig(config, "h_dim_customer")).toJS();
    expect(min.pipelines[0].nodes.map((n: { name: string }) => n.name)).toEqual(["h_dim_customer"]);
    const fact = parseDocument(minimalConfig(config, "h_fact_orders")).toJS();
    expect(fact.pipelines[0].nodes.map((n: { name: string }) => n.name)).toEqual([
      "h_dim_customer",
      "h_fact_orders",
    ]);
  });

  it("a node's failure is the finding, not the project's and pipeline's failures it causes", () => {
    const fail = (id: string, extra: Partial<Check> = {}): Check => ({
      gate: "golden",
      id,
      status: "fail",
      ...extra,
    });
    const h = { name: "pattern_fact", kind: "pattern", subject: "fact", dir: "/x", config };
    const checks = [
      fail("golden:pattern_fact", { errorType: "OdibiRunFailed" }),
      fail("golden:pattern_fact/harness", { errorType: "PipelineFailed" }),
      fail("golden:pattern_fact/harness/h_fact_orders", {
        errorType: "KeyError",
        message: "KeyError: 'customer_sk'",
      }),
      { gate: "golden", id: "harness:pattern_fact/h_dim_customer#expect", status: "pass" } as Check,
      fail("harness:pattern_fact/h_fact_orders#expect", { errorType: "WrongOutput", message: "no output" }),
    ];
    const f = findingsOf(h, checks);
    expect(f.map((x) => [x.checkId, x.node, x.errorType])).toEqual([
      ["golden:pattern_fact/harness/h_fact_orders", "h_fact_orders", "KeyError"],
    ]);
    expect(f[0]!.config).toContain("h_fact_orders");
    expect(f[0]!.signature).toMatch(/\S/);
    // Only wrong output: the project's exit is not explained by a node, so it stays a finding too.
    const wrong = findingsOf(h, [
      fail("golden:pattern_fact/x.json", { errorType: "MalformedStory" }),
      fail("harness:pattern_fact/h_fact_orders#expect", { errorType: "WrongOutput" }),
    ]);
    expect(wrong.map((x) => x.errorType)).toEqual(["MalformedStory", "WrongOutput"]);
    // A crash before any story: the project's failure is the finding.
    expect(findingsOf(h, [fail("golden:pattern_fact", { errorType: "OdibiRunFailed" })])).toHaveLength(1);
  });
});

describe("find-work order with harness findings", () => {
  const finding = (harness: string, node: string) => ({
    signature: `sig-${harness}`,
    harness,
    kind: "pattern",
    subject: "scd2",
    checkId: `harness:${harness}/${node}#expect`,
    node,
    errorType: "WrongOutput",
    message: `${node}: 3 rows, expected 5`,
    config: "project: x\n",
    dir: `/root/golden/harness/${harness}`,
  });

  it("failing checks → harness findings → discovered issues → coverage gaps", () => {
    const baseline: GateResult = {
      treeHash: "t",
      startedAt: "now",
      durationMs: 1,
      runs: [
        {
          gate: "tests",
          command: "pytest",
          durationMs: 1,
          checks: [{ gate: "tests", id: "t::a", status: "fail", message: "boom" }],
        },
      ],
    };
    const discovered = [
      { file: "odibi/x.py", line: 3, title: "TODO in x", signature: "d1", context: "…", kind: "todo" },
    ] as unknown as Parameters<typeof listWork>[1];
    const coverage = { kind: "coverage" as const, target: "odibi/y.py", title: "cover y", signature: "c1" };
    const work = listWork(
      baseline,
      discovered,
      { shouldAvoid: (s) => s === "sig-avoided" },
      {
        harnessFindings: [
          finding("pattern_scd2", "h_dim_scd2"),
          { ...finding("x", "n"), signature: "sig-avoided" },
        ],
        coverageTasks: [coverage],
      },
    );
    expect(work.map((t) => t.kind)).toEqual(["failure", "harness", "discovered", "coverage"]);
    const h = work[1]!;
    expect(h.target).toBe("harness:pattern_scd2/h_dim_scd2#expect");
    expect(h.title).toContain("3 rows, expected 5");
    expect(h.detail).toContain("/root/golden/harness/pattern_scd2");
    expect(h.detail).toContain("project: x");
    expect(harnessOfTarget(h.target)).toBe("pattern_scd2");
    expect(harnessOfTarget("golden:edge_unicode/harness/h_sort")).toBe("edge_unicode");
    expect(harnessOfTarget("validate:transformer_join:CODE:path")).toBe("transformer_join");
    expect(harnessTask(finding("a", "b")).kind).toBe("harness");
  });

  it("a harness finding is work for planCycle (no NO_WORK stop while one is open)", () => {
    const green: GateResult = { treeHash: "t", startedAt: "now", durationMs: 1, runs: [] };
    const facts = {
      baseline: green,
      discovered: [],
      memory: { shouldAvoid: () => false, failedApproaches: () => [] },
      fixers: () => [],
      llm: "test-llm",
      harnessFindings: [finding("pattern_scd2", "h_dim_scd2")],
    };
    const plan = planCycle(facts);
    expect(plan.foundWork).toBe(true);
    expect(plan.pick?.task.kind).toBe("harness");
    expect(planCycle({ ...facts, harnessFindings: [] }).foundWork).toBe(false);
  });
});

describe("a promoted fix resolves its finding", () => {
  it("takes the finding out of findings.json; its harness passes when none is left", () => {
    const golden = tempDir();
    mkdirSync(harnessDir(golden), { recursive: true });
    const f = (harness: string, checkId: string) => ({
      signature: checkId,
      harness,
      kind: "pattern",
      subject: harness,
      checkId,
      errorType: "E",
      message: "m",
      config: "",
      dir: "/x",
    });
    const h = (name: string) => ({ name, kind: "pattern", subject: name, covers: [name], passed: false });
    writeHarnessReport(golden, {
      odibiVersion: "3.15.1",
      ranAt: "now",
      harnesses: [h("a"), h("b")],
      findings: [f("a", "golden:a/p/n1"), f("b", "golden:b/p/n1"), f("b", "golden:b/p/n2")],
    });
    resolveFinding(golden, "golden:a/p/n1");
    resolveFinding(golden, "golden:b/p/n1");
    const r = readHarnessReport(golden)!;
    expect(r.findings.map((x) => x.checkId)).toEqual(["golden:b/p/n2"]);
    expect(r.harnesses.map((x) => [x.name, x.passed])).toEqual([
      ["a", true],
      ["b", false],
    ]);
  });
});

describe("a run of some harnesses", () => {
  it("updates theirs in the last report and keeps the others", () => {
    const h = (name: string, passed: boolean) => ({
      name,
      kind: "transformer",
      subject: name,
      covers: [name],
      passed,
    });
    const f = (harness: string) => ({
      signature: harness,
      harness,
      kind: "transformer",
      subject: harness,
      checkId: `golden:${harness}`,
      errorType: "E",
      message: "m",
      config: "",
      dir: "/x",
    });
    const prev = {
      odibiVersion: "3.15.1",
      ranAt: "t1",
      harnesses: [h("a", false), h("b", false)],
      findings: [f("a"), f("b")],
    };
    const next = {
      odibiVersion: "3.15.1",
      ranAt: "t2",
      harnesses: [h("b", true), h("c", false)],
      findings: [f("c")],
    };
    const m = mergeHarnessReports(prev, next);
    expect(m.harnesses.map((x) => [x.name, x.passed])).toEqual([
      ["a", false],
      ["b", true],
      ["c", false],
    ]);
    expect(m.findings.map((x) => x.harness)).toEqual(["a", "c"]);
    expect(m.ranAt).toBe("t2");
    expect(mergeHarnessReports(undefined, next)).toBe(next);
  });
});

describe("harness coverage", () => {
  it("counts the transformers whose own harness passed, of all odibi has; null before a run", () => {
    const h = (name: string, kind: string, passed: boolean) => ({
      name,
      kind,
      subject: name,
      covers: [name],
      passed,
    });
    const report = {
      odibiVersion: "3.15.1",
      ranAt: "now",
      harnesses: [
        h("transformer_a", "transformer", true),
        h("transformer_b", "transformer", false),
        h("edge_x", "edge", true),
      ],
      findings: [],
    };
    expect(transformerCoverage(report, 59)).toEqual({ passed: 1, total: 59 });
    expect(transformerCoverage(undefined, 59)).toBeNull();
    const f = findingsOf(
      { name: "transformer_b", kind: "transformer", subject: "b", dir: "/x", config: "project: b\n" },
      [
        {
          gate: "golden",
          id: "golden:transformer_b/harness/h_b",
          status: "fail",
          errorType: "KeyError",
          message: "KeyError: 'x'\nmore",
        },
      ],
    );
    const md = renderHarnessSummary({ ...report, findings: f }, intro, [
      { kind: "transformer", subject: "b", reason: "no stated result" },
    ]);
    expect(md).toContain("2/3 harnesses pass, 1 finding(s)");
    expect(md).toContain("| transformer | 2 | 1 |");
    expect(md).toContain("Harnesses passing: 1/59 transformers");
    expect(md).toContain("| transformer_b | h_b | KeyError: KeyError: 'x' |");
    expect(md).toContain("- transformer `b`: no stated result");
  });
});

describe("the golden gates' cache key and the harnesses", () => {
  it("a harness written or run under golden/harness/ leaves the golden projects' key as it was; a project's change does not", () => {
    const golden = path.join(tempDir(), "golden");
    mkdirSync(path.join(golden, "hello"), { recursive: true });
    writeFileSync(path.join(golden, "hello", "odibi.yaml"), "project: hello\n");
    const key = () => odibiGateFingerprint({ goldenDir: golden, env: {} }, "python -m odibi run {config}");
    const before = key();
    mkdirSync(path.join(golden, "harness", "t_add"), { recursive: true });
    writeFileSync(path.join(golden, "harness", "t_add", "odibi.yaml"), "project: t_add\n");
    writeFileSync(path.join(golden, "harness", "findings.json"), "[]\n");
    expect(key()).toBe(before);
    writeFileSync(path.join(golden, "hello", "odibi.yaml"), "project: hello2\n");
    expect(key()).not.toBe(before);
  });
});

describe("a harness run that wrote no story", () => {
  it("names odibi's own error when its story generation failed (a real odibi 3.15.1 log)", () => {
    // odibi 3.15.1's log from the wide-schema edge case: the run passed, its story's HTML rendering raised.
    const log = readFileSync(
      path.join(import.meta.dirname, "fixtures", "odibi-3.15.1-story-failure.txt"),
      "utf8",
    );
    const why = storyFailure(log)!;
    expect(why.errorType).toBe("AttributeError");
    expect(why.message).toBe("AttributeError: 'int' object has no attribute 'lower'");
    expect(why.detail).toContain("get_freshness_info");
    expect(why.detail).toContain("col_lower = col.lower()");
    expect(storyFailure("INFO Pipeline SUCCESS: harness\n")).toBeUndefined();
  });
});
