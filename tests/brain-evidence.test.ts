import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { buildUserPrompt, failingChecks } from "../src/brain/prompts.js";
import { createTestTracer } from "../src/brain/python-trace.js";
import { failureEvidence } from "../src/brain/relevant-code.js";
import { createRuleDescriber } from "../src/brain/rule-docs.js";
import type { Check, GateResult } from "../src/core/types.js";
import { runProcess } from "../src/exec/run-process.js";
import { parseRuffJson } from "../src/gates/parsers/ruff.js";
import { pytest } from "../src/gates/tools.js";
import { venvBinDir } from "../src/pyenv/python-env.js";
import { LocalWorkspace } from "../src/workspace/local-workspace.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * A src-layout package whose defects sit one or two calls away from the tests, behind a package `__init__`
 * re-export and a module alias: `Cart.total` calls `money.round_cents` (rounds to 1 digit: a wrong value, no
 * traceback into it) and `Cart.check` calls `money.validate` (raises).
 */
const REPO: Record<string, string> = {
  "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n',
  "src/shop/__init__.py": "from .pricing import Cart\n",
  "src/shop/pricing.py": `from shop.util import money


class Cart:
    def __init__(self):
        self.items = []

    def add(self, price, qty=1):
        self.items.append((price, qty))
        return self

    def total(self):
        return money.round_cents(sum(p * q for p, q in self.items))

    def check(self):
        return money.validate(self.items)
`,
  "src/shop/util/__init__.py": "",
  "src/shop/util/money.py": `def round_cents(x):
    return round(x, 1)


def validate(items):
    for p, q in items:
        if q > 0:
            raise ValueError(f"negative quantity {q}")
    return True
`,
  "tests/test_cart.py": `import shop.util.money as m
from shop import Cart


def test_total():
    cart = Cart().add(1.25, 2).add(0.33)
    assert cart.total() == 2.83


def test_check():
    assert Cart().add(1, 2).check()


def test_round_alias():
    assert m.round_cents(0.125) == 0.13
`,
  "tests/test_frame.py": `import pandas as pd


def pick(df):
    return df["missing"]


def test_pick():
    assert pick(pd.DataFrame({"a": [1]})) is not None
`,
};

/** The tests gate's real path: the pytest adapter's command (with colour forced on), real pytest, its parser. */
async function runPytest(repo: string, only: string[] = []): Promise<GateResult> {
  const out = tempDir();
  const { argv, reportFile } = pytest.prepare([inject("python"), "-m", "pytest", "--color=yes", ...only], {
    outputDir: out,
    runId: "run",
  });
  const r = await runProcess(argv[0]!, argv.slice(1), { cwd: repo, timeoutMs: 120_000 });
  const report = readFileSync(reportFile!, "utf8");
  const checks = pytest.parse(
    { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, report },
    {
      gate: "tests",
      workdir: repo,
    },
  );
  return { treeHash: "t", startedAt: "", durationMs: 0, runs: [{ gate: "tests", checks, durationMs: 0 }] };
}

function promptFor(repo: string, result: GateResult, id: string): string {
  const only: GateResult = {
    ...result,
    runs: result.runs.map((r) => ({ ...r, checks: r.checks.filter((c: Check) => c.id === id) })),
  };
  return buildUserPrompt({
    gateResult: only,
    ...failureEvidence(new LocalWorkspace(repo), failingChecks(only)),
    avoid: [],
    previous: [],
  });
}

describe("first prompt for a failing pytest test (real pytest, real parser)", () => {
  let repo: string;
  let result: GateResult;
  beforeAll(async () => {
    repo = await makeGitRepo(path.join(tempDir(), "shop"), REPO);
    result = await runPytest(repo);
  }, 180_000);

  it("a wrong value two calls away: the test once, the compared values, the helper's defective line", () => {
    const p = promptFor(repo, result, "tests/test_cart.py::test_total");
    expect(p).toContain("assert 2.8 == 2.83");
    // The test's source, once.
    expect(p.match(/cart = Cart\(\)\.add\(1\.25, 2\)\.add\(0\.33\)/g)).toHaveLength(1);
    // Resolved through `from shop import Cart` (a package re-export, src layout), then Cart.total's own import.
    expect(p).toMatch(/src\/shop\/pricing\.py lines \d+-\d+ of \d+:\n.*def total\(self\):/);
    expect(p).toContain("2|     return round(x, 1)");
    expect(p).toContain("src/shop/util/money.py");
    expect(p).not.toMatch(/\u001b\[/);
    expect(p.length).toBeLessThan(12_000);
  });

  it("an exception: the traceback frames inside the repository with the code around them", () => {
    const p = promptFor(repo, result, "tests/test_cart.py::test_check");
    expect(p).toContain("ValueError: negative quantity 2");
    expect(p).toContain("Traceback frames inside the repository");
    expect(p).toContain('raise ValueError(f"negative quantity {q}")');
    expect(p).toContain("if q > 0:");
    expect(p).not.toMatch(/\u001b\[/);
    expect(p).not.toMatch(/_ _ _ _/);
  });

  it("many failing tests: evidence for the first ones only, up to the cap; the rest listed as they are", () => {
    const check = failingChecks(result).find((c) => c.id === "tests/test_cart.py::test_check")!;
    const many = Array.from({ length: 30 }, (_, i) => ({ ...check, id: `${check.id}[${i}]` }));
    const { evidence } = failureEvidence(new LocalWorkspace(repo), many);
    expect(evidence.length).toBeGreaterThan(1);
    expect(evidence.length).toBeLessThan(30);
    expect(evidence.reduce((n, e) => n + e.body.length, 0)).toBeLessThan(8000 + 7000);
  });

  it("a module alias (`import shop.util.money as m`): the function it names", () => {
    const p = promptFor(repo, result, "tests/test_cart.py::test_round_alias");
    expect(p).toContain("assert 0.1 == 0.13");
    expect(p).toMatch(
      /src\/shop\/util\/money\.py lines 1-2 of \d+:\n1\| def round_cents\(x\):\n2\| {5}return round\(x, 1\)/,
    );
  });
});

describe("pytest detail (real pytest through pandas)", () => {
  it("installed frames keep their location and error lines, not their code; the repository's frames stay whole", async () => {
    const repo = await makeGitRepo(path.join(tempDir(), "frame"), {
      "tests/test_frame.py": REPO["tests/test_frame.py"]!,
    });
    const result = await runPytest(repo);
    const c = failingChecks(result)[0]!;
    expect(c.id).toBe("tests/test_frame.py::test_pick");
    // pandas' get_loc with its docstring is gone; where it raised and what it said are kept.
    expect(c.detail).not.toContain("Get integer location");
    expect(c.detail).toMatch(/site-packages[\\/]pandas[\\/]core[\\/]indexes[\\/]base\.py:\d+: KeyError/);
    expect(c.detail).toContain("E           KeyError: 'missing'");
    expect(c.detail).toContain('return df["missing"]');
    expect(c.detail).toContain("The above exception was the direct cause");
    const p = promptFor(repo, result, c.id);
    expect(p).toContain("KeyError: 'missing'");
    expect(p).toMatch(
      /tests\/test_frame\.py lines \d+-\d+ of \d+:\n(?:.*\n)*\s*5\|\s+return df\["missing"\]/,
    );
    expect(p).not.toContain("site-packages/pandas/core/indexes/base.py lines");
  }, 180_000);
});

describe("first prompt for a lint finding (real ruff)", () => {
  it("the rule's one-line documentation from ruff and the code around the finding", async () => {
    const repo = await makeGitRepo(path.join(tempDir(), "lint"), {
      "pkg/__init__.py": "",
      "pkg/a.py": "import os\n\n\ndef f():\n    return 1\n",
    });
    const r = await runProcess(inject("python"), ["-m", "ruff", "check", "--output-format", "json", "."], {
      cwd: repo,
      timeoutMs: 60_000,
    });
    const checks = parseRuffJson(r.stdout, { gate: "lint", workdir: repo });
    const result: GateResult = {
      treeHash: "t",
      startedAt: "",
      durationMs: 0,
      runs: [{ gate: "lint", checks, durationMs: 0 }],
    };
    const env = { PATH: `${venvBinDir(inject("venv"))}${path.delimiter}${process.env.PATH}` };
    const doc = await createRuleDescriber(new LocalWorkspace(repo), env)("F401");
    expect(doc).toMatch(
      /^F401 \(unused-import\): Checks for unused imports\. Unused imports add .* cycles\.$/,
    );
    const p = buildUserPrompt({
      gateResult: result,
      ...failureEvidence(new LocalWorkspace(repo), failingChecks(result), new Map([["F401", doc!]])),
      avoid: [],
      previous: [],
    });
    expect(p).toContain("Rule F401 (unused-import): Checks for unused imports.");
    expect(p).toContain("pkg/a.py lines 1-6 of");
    expect(p).toContain("1| import os");
  });
});

describe("first prompt for a failing odibi test (a copy of odibi 3.15.1 and its test, real pytest)", () => {
  it("a transformer returning a wrong column name: the transformer's body with the defective line", async () => {
    const repo = path.join(tempDir(), "odibi");
    const src = inject("odibiSource");
    cpSync(path.join(src, "odibi"), path.join(repo, "odibi"), { recursive: true });
    const test = "tests/test_transformers_bulk_columns.py";
    cpSync(path.join(src, test), path.join(repo, test));
    writeFileSync(path.join(repo, "pyproject.toml"), '[tool.pytest.ini_options]\npythonpath = ["."]\n');
    // The defect: consecutive underscores collapse to two, not one.
    const module = path.join(repo, "odibi", "transformers", "sql_core.py");
    const good = 'new_name = re.sub(r"_+", "_", new_name)';
    const text = readFileSync(module, "utf8");
    expect(text).toContain(good);
    writeFileSync(module, text.replace(good, 'new_name = re.sub(r"_+", "__", new_name)'));
    const id = `${test}::test_normalize_column_names_snake_case`;
    const result = await runPytest(repo, [id]);
    const p = promptFor(repo, result, id);
    expect(p).toContain('assert "customer_id" in res_df.columns');
    expect(p).toMatch(/\d+\|\s+new_name = re\.sub\(r"_\+", "__", new_name\)/);
    expect(p.indexOf("def normalize_column_names(")).toBeLessThan(p.indexOf("def create_pandas_context("));
    expect(p.length).toBeLessThan(12_000);
  }, 180_000);
  it("a long definition whose defect lies past its first 50 lines: the lines the failing test ran (traced)", async () => {
    const repo = path.join(tempDir(), "odibi");
    const src = inject("odibiSource");
    cpSync(path.join(src, "odibi"), path.join(repo, "odibi"), { recursive: true });
    const test = "tests/test_transformers_advanced.py";
    cpSync(path.join(src, test), path.join(repo, test));
    writeFileSync(path.join(repo, "pyproject.toml"), '[tool.pytest.ini_options]\npythonpath = ["."]\n');
    // The defect: the pandas branch of sessionize (60 lines into the function, after a Spark branch) flags a new
    // session when the gap is below the threshold.
    const module = path.join(repo, "odibi", "transformers", "advanced.py");
    const good = "is_new = (time_diff > params.threshold_seconds)";
    const text = readFileSync(module, "utf8");
    expect(text).toContain(good);
    writeFileSync(module, text.replace(good, "is_new = (time_diff < params.threshold_seconds)"));
    const id = `${test}::test_sessionize_pandas`;
    const result = await runPytest(repo, [id]);
    const only: GateResult = {
      ...result,
      runs: result.runs.map((r) => ({ ...r, checks: r.checks.filter((c: Check) => c.id === id) })),
    };
    const workspace = new LocalWorkspace(repo);
    const defective = /\d+\|\s+is_new = \(time_diff < params\.threshold_seconds\)/;
    // Without a trace: the function from its start, the Spark branch, and not the defective line.
    const untraced = buildUserPrompt({
      gateResult: only,
      ...failureEvidence(workspace, failingChecks(only)),
      avoid: [],
      previous: [],
    });
    expect(untraced).toContain("def sessionize(");
    expect(untraced).not.toMatch(defective);
    // With the real tracer (the venv's pytest under sys.settrace): the lines the test ran, the Spark SQL left out.
    const env = { ...process.env, PATH: `${venvBinDir(inject("venv"))}${path.delimiter}${process.env.PATH}` };
    const trace = await createTestTracer(workspace, env as Record<string, string>)(id);
    expect(trace?.get("odibi/transformers/advanced.py")?.size).toBeGreaterThan(5);
    const traced = buildUserPrompt({
      gateResult: only,
      ...failureEvidence(workspace, failingChecks(only), new Map(), new Map([[id, trace!]])),
      avoid: [],
      previous: [],
    });
    expect(traced).toContain("def sessionize(");
    expect(traced).toMatch(defective);
    expect(traced).toMatch(/\(lines \d+-\d+: not run by this test, not shown\)/);
    expect(traced).not.toContain("LAG(");
  }, 180_000);
});
