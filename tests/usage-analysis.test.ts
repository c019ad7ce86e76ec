import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeStories } from "../src/analysis/analyze.js";
import { failedIn, normalizeMessage } from "../src/analysis/normalize.js";
import { readUsageAnalysis, resolveUsageItem, writeUsageAnalysis } from "../src/analysis/report.js";
import { transformerForSql } from "../src/analysis/sql-equivalents.js";
import { decide, type VerdictFacts } from "../src/campaign/decide.js";
import { listWork } from "../src/campaign/find-work.js";
import { JSON_RESULTS } from "../src/cli/json-schemas.js";
import { createDashboard } from "../src/dashboard/server.js";
import { usageBody } from "../src/dashboard/views.js";
import { ImprovementEnvironment } from "../src/environment/environment.js";
import { checkPolicy } from "../src/policy/check-policy.js";
import { pythonConstantsAsNull } from "../src/stories/story-parser.js";
import { cli, jsonl } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * Issue 17: the usage analysis over real odibi 3.15.1 stories (tests/fixtures/stories/README.md says how they were
 * made). Expected sequences, clusters and suggestions are read from the stories' own fields, not restated.
 */

const FIX = path.resolve(import.meta.dirname, "fixtures", "stories");
const CORPUS = path.join(FIX, "usage-corpus");
const HARNESS = path.join(FIX, "harness-output");

// biome-ignore lint/suspicious/noExplicitAny: odibi story JSON as written
type Raw = Record<string, any>;

function rawStories(dir: string): Array<{ file: string; doc: Raw }> {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".json"))
    .map((f) => ({
      file: path.join(dir, f),
      // odibi 3.15.1 writes NaN in the samples of a story over empty data (Python's json.dump).
      doc: JSON.parse(pythonConstantsAsNull(readFileSync(path.join(dir, f), "utf8"))) as Raw,
    }))
    .filter((s) => "pipeline_name" in s.doc);
}

/** A story's operations as odibi recorded them in each node's config snapshot. */
function recordedOps(doc: Raw): string[] {
  return (doc.nodes as Raw[]).flatMap((n) => {
    const cs = n.config_snapshot as Raw | null;
    const steps = (cs?.transform?.steps ?? []) as Raw[];
    return [
      ...(cs?.transformer ? [cs.transformer as string] : []),
      ...steps.map((s) => (s.function ?? s.operation ?? "sql") as string),
    ];
  });
}

const contains = (long: string[], short: string[]) =>
  long.some((_, i) => short.every((s, j) => long[i + j] === s));

const failedNodes = (stories: Array<{ doc: Raw }>) =>
  stories.flatMap(({ doc }) =>
    (doc.nodes as Raw[]).filter((n) => n.status === "failed").map((n) => ({ doc, node: n })),
  );

describe("UsageAnalyzer on real odibi 3.15.1 stories", () => {
  const raw = rawStories(CORPUS);
  const a = analyzeStories([{ dir: CORPUS }]);

  it("reads every run story once and leaves odibi's lineage file aside", () => {
    expect(a.stories).toBe(raw.length);
    expect(a.stories).toBe(10);
    expect(a.otherFiles).toBe(1);
    expect(a.skipped).toEqual([]);
    expect(a.failedNodes).toBe(failedNodes(raw).length);
  });

  it("findCommonPatterns: the chain the pipelines repeat, with its runs and pipelines", () => {
    const top = a.patterns[0]!;
    expect(top.sequence).toEqual(["trim_whitespace", "filter_rows", "deduplicate"]);
    const having = raw.filter((s) => contains(recordedOps(s.doc), top.sequence));
    expect(top.count).toBe(having.length);
    expect(top.pipelines).toEqual([...new Set(having.map((s) => s.doc.pipeline_name as string))].sort());
    expect(top.pipelines).toEqual(["customers_clean", "events_sql", "orders_clean"]);
    expect(top.examples.map((e) => e.pipeline)).toEqual(top.pipelines);
    // Every pattern is a sequence some story holds, as often as the stories hold it.
    for (const p of a.patterns)
      expect(p.count, p.sequence.join(">")).toBe(
        raw.filter((s) => contains(recordedOps(s.doc), p.sequence)).length,
      );
    // A sequence inside a longer one seen as often is not listed again.
    expect(a.patterns.some((p) => p.sequence.join() === "trim_whitespace,filter_rows")).toBe(false);
  });

  it("findFailurePatterns: one cluster for the missing columns, names and numbers masked", () => {
    expect(a.failures).toHaveLength(1);
    const [c] = a.failures;
    const failed = failedNodes(raw);
    expect(c).toMatchObject({
      errorType: "BinderException",
      message: "Binder Error: Referenced column <name> not found in FROM clause!",
      count: failed.length,
      stories: new Set(failed.map((f) => f.doc.run_id)).size,
      transformers: ["filter_rows"],
      pipelines: ["broken_filter", "broken_sql"],
    });
    expect(c!.nodes).toEqual(
      [...new Set(failed.map((f) => `${f.doc.pipeline_name}/${f.node.node_name}`))].sort(),
    );
    const starts = failed.map((f) => f.doc.started_at as string).sort();
    expect(c!.firstSeen).toBe(starts[0]);
    expect(c!.lastSeen).toBe(starts.at(-1));
    expect(c!.traceback).toContain("BinderException: Binder Error: Referenced column");
    expect(c!.example.message).toMatch(/Referenced column "(?:discount|amount_usd)"/);
    expect(c!.signature).toMatch(/^usage:[0-9a-f]{12}$/);
  });

  it("suggestNewTransformers: the chain, and SQL steps that re-implement filter_rows and distinct", () => {
    const chain = a.suggestions.find((s) => s.kind === "chain")!;
    expect(chain.sequence).toEqual(["trim_whitespace", "filter_rows", "deduplicate"]);
    expect(chain.evidence[0]).toContain("3 pipelines");
    const sqlSteps = raw.flatMap((s) =>
      (s.doc.nodes as Raw[]).flatMap((n) =>
        ((n.config_snapshot?.transform?.steps ?? []) as Raw[]).filter((x) => x.sql),
      ),
    );
    const sql = a.suggestions.filter((s) => s.kind === "sql");
    expect(sql.map((s) => [s.transformer, s.count]).sort()).toEqual([
      ["distinct", sqlSteps.filter((x) => /^SELECT DISTINCT/.test(x.sql)).length],
      ["filter_rows", sqlSteps.filter((x) => /^SELECT \* FROM df WHERE/.test(x.sql)).length],
    ]);
    expect(sql.find((s) => s.transformer === "filter_rows")!.evidence).toContain(
      "2× SELECT * FROM df WHERE amount > N",
    );
  });

  it("writes the report, and a promoted fix leaves it", () => {
    const reports = tempDir();
    const { md } = writeUsageAnalysis(reports, a);
    expect(readFileSync(md, "utf8")).toContain(
      "### 1. BinderException: Binder Error: Referenced column <name>",
    );
    // The root cause's traceback (DuckDB's), not odibi's wrapper with its suggestions.
    expect(readFileSync(md, "utf8")).toMatch(/```text\n[^`]*duckdb\.BinderException[^`]*```/);
    expect(readFileSync(md, "utf8")).not.toContain("1. Verify column name spelling");
    resolveUsageItem(reports, a.failures[0]!.signature);
    expect(readUsageAnalysis(reports)?.failures).toEqual([]);
  });
});

describe("stories from other odibi versions and broken files", () => {
  it("a story without the optional fields is read; a malformed one is named and skipped", () => {
    const dir = tempDir();
    const orders = rawStories(path.join(CORPUS, "orders_clean"))[0]!.doc;
    const old = structuredClone(orders);
    for (const k of ["pipeline_layer", "project", "started_at", "completed_at", "total_rows_processed"])
      delete old[k];
    for (const n of old.nodes as Raw[])
      for (const k of [
        "config_snapshot",
        "transformation_stack",
        "executed_sql",
        "retry_history",
        "operation",
        "duration",
        "rows_in",
        "rows_out",
      ])
        delete n[k];
    writeFileSync(path.join(dir, "old.json"), JSON.stringify(old));
    const text = JSON.stringify(orders);
    writeFileSync(path.join(dir, "run_truncated.json"), text.slice(0, text.length / 2));
    const { nodes: _, ...noNodes } = orders;
    writeFileSync(path.join(dir, "run_no_nodes.json"), JSON.stringify(noNodes));
    const a = analyzeStories([{ dir }]);
    expect(a.stories).toBe(1);
    // Without its config snapshot the node's transformer still comes from odibi's execution steps.
    expect(a.operations).toEqual({ aggregate: 1 });
    expect(a.skipped.map((s) => path.basename(s.file)).sort()).toEqual([
      "run_no_nodes.json",
      "run_truncated.json",
    ]);
    expect(a.skipped.find((s) => s.file.endsWith("run_truncated.json"))!.problem).toMatch(/^not valid JSON/);
    expect(a.skipped.find((s) => s.file.endsWith("run_no_nodes.json"))!.problem).toMatch(
      /not an odibi run story[\s\S]*nodes/,
    );
  });
});

describe("normalisation and SQL shapes", () => {
  it("masks paths, quoted names and numbers; keeps the words", () => {
    expect(
      normalizeMessage('File "/data/in/x_2024.csv" not found after 3 tries at C:\\tmp\\a\\b.csv\nmore'),
    ).toBe("File <name> not found after <n> tries at <path>");
    expect(normalizeMessage("column 'amount_usd' missing in _df_139694249884544_16")).toBe(
      "column <name> missing in _df_<n>_<n>",
    );
  });

  it("names the transformer a SQL step re-implements, and none for SQL that does more", () => {
    expect(transformerForSql("SELECT * FROM df WHERE amount > 10")).toBe("filter_rows");
    expect(transformerForSql("select distinct a, b from df")).toBe("distinct");
    expect(transformerForSql("SELECT category, SUM(amount) AS amount FROM df GROUP BY category")).toBe(
      "aggregate",
    );
    expect(transformerForSql("SELECT * FROM df ORDER BY a DESC")).toBe("sort");
    expect(transformerForSql("SELECT a, b FROM df")).toBe("select_columns");
    expect(transformerForSql("SELECT a FROM df JOIN other ON df.id = other.id")).toBeUndefined();
    expect(transformerForSql("SELECT *, a * b AS c FROM df")).toBeUndefined();
  });

  it("finds the transformer a traceback failed in", () => {
    const tb = readFileSync(path.join(CORPUS, "broken_filter", "2026-12-06", "run_05-15-56.json"), "utf8");
    const node = (JSON.parse(tb) as Raw).nodes[0] as Raw;
    expect(failedIn(node.retry_history.at(-1).error_traceback)).toBe("filter_rows");
    expect(failedIn('  File "/x/odibi/patterns/scd2.py", line 3, in execute')).toBe("scd2");
    expect(failedIn(undefined)).toBeUndefined();
  });
});

describe("gap detection feeds the campaign", () => {
  const a = analyzeStories([{ dir: CORPUS }, { dir: HARNESS }]);
  const none = { shouldAvoid: () => false };

  it("one cluster for four different DuckDB messages: the quoted function calls are masked", () => {
    const edge = rawStories(path.join(HARNESS, "golden", "edge_empty_data"))[0]!.doc;
    const raw = (edge.nodes as Raw[])
      .filter((n) => n.status === "failed")
      .map((n) => n.error_message as string);
    expect(new Set(raw.map((m) => /function call "(.*)"\./.exec(m)?.[1])).size).toBe(4);
    const c = a.failures.find((f) => f.message.includes("best candidate function"))!;
    expect(c).toMatchObject({
      errorType: "BinderException",
      message:
        "Binder Error: Could not choose a best candidate function for the function call <name>. In order to select one, please add explicit type casts.",
      count: 4,
      stories: 1,
      transformers: ["date_add", "date_diff", "date_trunc", "extract_date_parts"],
    });
  });

  it("failure clusters are fix tasks, most frequent first; a missing package is not work", () => {
    expect(a.failures.map((f) => [f.errorType, f.count])).toEqual([
      ["BinderException", 4],
      ["BinderException", 4],
      ["ImportError", 3],
    ]);
    const cool = a.failures[2]!;
    expect(cool.message).toBe(
      "CoolProp is required for thermodynamics transformers. Install with: pip install CoolProp>=<n>.<n>.<n>",
    );
    expect(cool.nodes).toEqual([
      "harness/h_fluid_properties",
      "harness/h_psychrometrics",
      "harness/h_saturation_properties",
    ]);
    const work = listWork(null, [], none, { usage: a, allowNewFeatures: false });
    expect(work.map((t) => [t.kind, t.signature])).toEqual([
      ["usage", a.failures[0]!.signature],
      ["usage", a.failures[1]!.signature],
    ]);
    expect(work[0]!.detail).toContain("Traceback:");
    // The task points at the transformer's code the traceback went through.
    const referenced = work.find(
      (t) => t.signature === a.failures.find((f) => f.message.includes("Referenced column"))!.signature,
    )!;
    expect([referenced.file, referenced.line]).toEqual(["odibi/transformers/sql_core.py", 62]);
  });

  it("with allow_new_features a recurring chain becomes a new-feature task, last; without it only reported", () => {
    const work = listWork(null, [], none, { usage: a, allowNewFeatures: true });
    expect(work.map((t) => t.kind)).toEqual(["usage", "usage", "feature"]);
    expect(work[2]!.title).toBe(
      "new transformer: one transformer for trim_whitespace → filter_rows → deduplicate",
    );
    expect(work[2]!.detail).toMatch(/Write its tests first[\s\S]*every gate passes/);
    const avoided = listWork(
      null,
      [],
      { shouldAvoid: (s) => s.startsWith("usage:") },
      { usage: a, allowNewFeatures: true },
    );
    expect(avoided.map((t) => t.kind)).toEqual(["feature"]);
  });

  it("a new feature is promoted only with its tests and every gate passing", () => {
    const base: VerdictFacts = {
      changed: true,
      policyViolations: [],
      gateErrors: [],
      newFailures: [],
      remainingFailures: 0,
      targetFixed: null,
      missingRequiredGates: [],
      mode: "baseline",
      discoveredIssue: null,
    };
    expect(decide({ ...base, newFeature: { testsAdded: false } })).toMatchObject({ action: "rejected" });
    expect(decide({ ...base, newFeature: { testsAdded: true }, remainingFailures: 2 }).reason).toMatch(
      /every gate passes: 2/,
    );
    expect(decide({ ...base, newFeature: { testsAdded: true } })).toMatchObject({ action: "promoted" });
    expect(decide({ ...base, remainingFailures: 2 })).toMatchObject({ action: "promoted" });
  });

  it("the policy lets a new-feature candidate add test files, never change existing ones", () => {
    const settings = {
      protected_paths: [],
      forbidden_connections: [],
      allow_new_features: true,
      max_files_changed: 20,
      max_lines_changed: 500,
    };
    const added = [
      "diff --git a/tests/test_chain.py b/tests/test_chain.py",
      "new file mode 100644",
      "--- /dev/null",
      "+++ b/tests/test_chain.py",
      "@@ -0,0 +1 @@",
      "+def test_chain(): assert True",
      "",
    ].join("\n");
    const changed = [
      "diff --git a/tests/test_chain.py b/tests/test_chain.py",
      "--- a/tests/test_chain.py",
      "+++ b/tests/test_chain.py",
      "@@ -1 +1 @@",
      "-def test_chain(): assert 1",
      "+def test_chain(): assert True",
      "",
    ].join("\n");
    const oracle = (diff: string, newTestsAllowed: boolean) =>
      checkPolicy(diff, settings, undefined, { newTestsAllowed }).filter(
        (c) => c.errorType === "oracle-modified",
      );
    expect(oracle(added, false)).toHaveLength(1);
    expect(oracle(added, true)).toEqual([]);
    expect(oracle(changed, true)).toHaveLength(1);
  });
});

describe("odibi-improve analyze and the dashboard", () => {
  it("reads the environment's golden and harness stories, and --stories without a root", async () => {
    const base = tempDir();
    const sacred = await makeGitRepo(path.join(base, "repo"), { "README.md": "x\n" });
    const root = path.join(base, "improve");
    expect((await cli(["init", "--source", sacred, "--root", root, "--profile", "generic"])).code).toBe(0);
    cpSync(HARNESS, path.join(root, ".odibi-improve", "harness-output"), { recursive: true });
    const golden = path.join(root, "stories", "cycle_001", "golden", "usage", "data", "out", "stories");
    mkdirSync(path.dirname(golden), { recursive: true });
    cpSync(CORPUS, golden, { recursive: true });
    const r = await cli(["--json", "--root", root, "analyze"]);
    const result = JSON_RESULTS.analyze.parse(JSON.parse(r.out.trim().split("\n").at(-1)!));
    expect(r.code).toBe(0);
    expect(result.analysis.stories).toBe(18);
    expect(result.analysis.failures.map((f) => f.count)).toEqual([4, 4, 3]);
    expect(result.report).toBe(path.join(root, "reports", "usage_analysis.md"));
    expect(readFileSync(result.report, "utf8")).toContain("ImportError: CoolProp is required");

    const app = createDashboard({ env: ImprovementEnvironment.open(root), loopback: true, pollMs: 20 });
    const usage = await (await app.request("/usage")).text();
    expect(usage).toContain("Binder Error: Referenced column &lt;name&gt; not found in FROM clause!");
    expect(usage).toContain("trim_whitespace → filter_rows → deduplicate");
    expect((await app.request("/file/reports/usage_analysis.md")).status).toBe(200);

    // The campaign picks the clusters up as work (no LLM here: they wait for one), and the chain with
    // allow_new_features.
    writeFileSync(
      path.join(root, "config.yaml"),
      `${readFileSync(path.join(root, "config.yaml"), "utf8")}\npolicy:\n  allow_new_features: true\n`,
    );
    expect((await cli(["--root", root, "run", "--no-llm", "--max-cycles", "1"])).code).toBe(3);
    const waiting = jsonl(path.join(root, "events.jsonl")).find((e) => e.type === "waiting")!;
    expect(waiting.items.map((i: { kind: string; target: string }) => [i.kind, i.target])).toEqual([
      ...result.analysis.failures.slice(0, 2).map((f) => ["usage", f.signature]),
      ["feature", result.analysis.suggestions.find((s) => s.kind === "chain")!.signature],
    ]);

    const out = tempDir();
    const own = await cli(["--json", "analyze", "--stories", HARNESS, "--out", out]);
    const ownResult = JSON_RESULTS.analyze.parse(JSON.parse(own.out.trim().split("\n").at(-1)!));
    expect(ownResult.analysis.stories).toBe(8);
    expect(existsSync(path.join(out, "usage_analysis.json"))).toBe(true);

    const bad = await cli(["analyze", "--stories", path.join(out, "none"), "--out", out]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("no such folder");
  });

  it("a root without an analysis: the page says how to make one", async () => {
    expect(usageBody(undefined).value).toContain("odibi-improve analyze");
  });
});
