import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/load.js";
import { explainGitFailure } from "../src/environment/git.js";
import { projectRequirements } from "../src/environment/python-deps.js";
import {
  chooseExtras,
  importNameOf,
  modulesUsed,
  repositoryRuffSetup,
  ruffScopeOfLine,
  ruffSetup,
  testModulesOf,
  unrunnableTests,
} from "../src/environment/python-project.js";
import { parseRuffFormatCheck, ruffFormatSummaryCount } from "../src/gates/parsers/ruff.js";
import { adapterFor } from "../src/gates/tools.js";
import { odibiProfile } from "../src/profiles/odibi/profile.js";
import { tempDir, writeFiles } from "./helpers.js";

/** The shape of odibi 3.15.0's CI lint job (ruff pinned, a format check, a piped step that is not a scope). */
const CI = `
name: CI
on: [push]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Install Ruff
        run: python -m pip install ruff==0.14.6
      - name: Check code formatting (Ruff)
        run: ruff format --check odibi/ tests/
      - name: Check changed MCP formatting
        run: |
          git diff --name-only -z origin/main -- 'odibi_mcp/*.py' \\
            | xargs -0 -r ruff format --check
      - name: Lint code (Ruff)
        run: ruff check odibi/ tests/ odibi_mcp/
  test:
    runs-on: ubuntu-latest
    steps:
      - run: pytest -v -m "not extras"
`;

const PRE_COMMIT = `
repos:
  - repo: https://github.com/pre-commit/pre-commit-hooks
    rev: v4.5.0
  - repo: https://github.com/astral-sh/ruff-pre-commit
    rev: v0.13.1
    hooks:
      - id: ruff
        args: [--fix]
`;

const PYPROJECT = `
[project]
name = "odibi"
version = "3.15.0"
dependencies = ["pandas>=2.0.0,<3.0.0", "duckdb>=0.9.0", "python-dotenv>=1.0.0"]
[project.optional-dependencies]
cli = ["rich>=13.0.0"]
spark = ["pyspark>=3.4.0", "delta-spark>=2.3.0"]
pandas = ["duckdb>=0.9.0", "pandasql>=0.7.3"]
sql = ["pyodbc>=5.0.0", "sqlalchemy>=2.0.0"]
postgres = ["psycopg2-binary>=2.9.0", "sqlalchemy>=2.0.0"]
azure = ["azure-identity>=1.14.0"]
all = ["pyspark>=3.4.0", "sqlalchemy>=2.0.0", "rich>=13.0.0"]
dev = ["pytest>=7.4.0", "pytest-cov>=4.1.0", "ruff==0.14.6", "black==25.11.0", "pyspark>=3.4.0", "odibi[cli]"]
[dependency-groups]
test = ["pytest-mock>=3"]
`;

describe("the repository's ruff: pin, lint scope and formatting check", () => {
  it("reads them from the CI workflow (pipes, --fix and other tools are not scopes)", () => {
    expect(ruffSetup({ workflows: [{ name: ".github/workflows/ci.yml", text: CI }] })).toEqual({
      version: "0.14.6",
      versionFrom: ".github/workflows/ci.yml",
      check: ["odibi/", "tests/", "odibi_mcp/"],
      format: ["--check", "odibi/", "tests/"],
      scopeFrom: ".github/workflows/ci.yml",
    });
    expect(ruffScopeOfLine("python -m ruff check --fix odibi")).toBeUndefined();
    expect(ruffScopeOfLine("ruff format odibi")).toBeUndefined(); // formats, does not check
    expect(ruffScopeOfLine("ruff check $(git ls-files '*.py')")).toBeUndefined();
    expect(ruffScopeOfLine("  python3 -m ruff check --select E9 src  ")).toEqual({
      kind: "check",
      args: ["--select", "E9", "src"],
    });
  });

  it("without CI, the pin comes from pre-commit, then pyproject; no scope, no format check", () => {
    expect(ruffSetup({ preCommit: PRE_COMMIT, pyproject: PYPROJECT })).toEqual({
      version: "0.13.1",
      versionFrom: ".pre-commit-config.yaml",
      check: [],
    });
    expect(ruffSetup({ pyproject: PYPROJECT })).toMatchObject({
      version: "0.14.6",
      versionFrom: "pyproject.toml",
    });
    expect(ruffSetup({ workflows: [{ name: "bad.yml", text: "jobs: [" }] })).toEqual({ check: [] });
  });

  it("the odibi profile lints what the repository's CI lints, with its pinned ruff on PATH", () => {
    const repo = tempDir();
    writeFiles(repo, { ".github/workflows/ci.yml": CI, "pyproject.toml": PYPROJECT });
    expect(repositoryRuffSetup(repo).version).toBe("0.14.6");
    expect(odibiProfile.commands(repo)).toMatchObject({
      lint: "ruff check odibi/ tests/ odibi_mcp/",
      format_check: "ruff format --check odibi/ tests/",
      fix: ["ruff check --fix odibi/ tests/ odibi_mcp/"],
    });
    // Without CI: odibi/ only, no formatting check.
    expect(odibiProfile.commands(tempDir())).toMatchObject({ lint: "ruff check odibi" });
    expect(odibiProfile.commands(tempDir()).format_check).toBeUndefined();
    const packages = tempDir();
    writeFiles(packages, { "pyvenv.cfg": "home = /usr/bin\n" }); // the repository's venv
    const env = odibiProfile.gateEnv({
      workdir: repo,
      venv: "/venv",
      outputDir: tempDir(),
      pythonPackages: packages,
    });
    // The tree's code first; `python` and `ruff` are the repository venv's, the tool's venv behind it.
    expect(env.PYTHONPATH).toBe(repo);
    expect(env.VIRTUAL_ENV).toBe(packages);
    expect(env.PATH?.split(path.delimiter).slice(0, 2)).toEqual(
      [packages, "/venv"].map((v) => path.join(v, process.platform === "win32" ? "Scripts" : "bin")),
    );
    // Nothing installed: the tool's venv.
    const bare = odibiProfile.gateEnv({
      workdir: repo,
      venv: "/venv",
      outputDir: tempDir(),
      pythonPackages: path.join(packages, "absent"),
    });
    expect(bare.PYTHONPATH).toBe(repo);
    expect(bare.VIRTUAL_ENV).toBe("/venv");
  });

  it("ruff format --check: one failing check per file to reformat, parse errors with their place", () => {
    const out = [
      "Would reformat: odibi/a.py",
      "Would reformat: \u001b[1mtests/test_b.py\u001b[0m",
      "error: Failed to parse odibi/c.py:3:7: Expected an expression",
      "2 files would be reformatted, 40 files already formatted",
    ].join("\n");
    const checks = parseRuffFormatCheck(out, { gate: "lint", workdir: "/w" });
    expect(checks.map((c) => [c.id, c.status, c.line])).toEqual([
      ["format:odibi/a.py", "fail", undefined],
      ["format:tests/test_b.py", "fail", undefined],
      ["format-parse:odibi/c.py", "fail", 3],
    ]);
    expect(ruffFormatSummaryCount(out)).toBe(2);
    expect(ruffFormatSummaryCount("12 files already formatted")).toBe(0);
    expect(adapterFor(["ruff", "format", "--check", "odibi"]).tool).toBe("ruff-format");
    expect(adapterFor(["ruff", "check", "odibi"]).tool).toBe("ruff");
    expect(
      adapterFor(["ruff", "format", "--check"]).disagreements?.(
        { stdout: out, stderr: "", exitCode: 1 },
        checks.slice(0, 1),
        undefined,
      ),
    ).toEqual(["ruff format said 2 file(s) would be reformatted but listed 1"]);
  });
});

describe("the extras the test suite needs", () => {
  it("modules used: imports, importorskip and patch targets", () => {
    const text = [
      "import os, sys",
      "from sqlalchemy.orm import Session",
      "    import polars as pl",
      'pd = pytest.importorskip("fastavro")',
      'with patch("pyodbc.connect"):',
      "x = 'import nothing'",
    ].join("\n");
    expect([...modulesUsed(text)].sort()).toEqual(["fastavro", "os", "polars", "pyodbc", "sqlalchemy"]);
    expect(importNameOf("delta-spark")).toBe("delta");
    expect(importNameOf("azure-keyvault-secrets")).toBe("azure");
    expect(importNameOf("CoolProp")).toBe("CoolProp");
  });

  it("every non-aggregate extra providing a module the tests use that the core does not", () => {
    const modules = new Set(["pandas", "duckdb", "pyspark", "sqlalchemy", "rich", "os"]);
    expect(chooseExtras(PYPROJECT, modules)).toEqual({
      chosen: ["cli", "spark", "sql", "postgres"],
      because: { cli: ["rich"], spark: ["pyspark"], sql: ["sqlalchemy"], postgres: ["sqlalchemy"] },
    });
    expect(chooseExtras(PYPROJECT, new Set(["pandas"])).chosen).toEqual([]);
  });

  it("installs core, the extras, the pytest tools of the test groups and the ruff pin; never the project", () => {
    expect(projectRequirements(PYPROJECT, ["sql"], "0.14.6")).toEqual([
      "pandas>=2.0.0,<3.0.0",
      "duckdb>=0.9.0",
      "python-dotenv>=1.0.0",
      "pyodbc>=5.0.0",
      "sqlalchemy>=2.0.0",
      "pytest-mock>=3",
      "pytest>=7.4.0",
      "pytest-cov>=4.1.0",
      "ruff==0.14.6",
    ]);
    // The venv already has the core (its odibi from PyPI is the repository's version): extras and tools only.
    expect(projectRequirements(PYPROJECT, ["sql"], undefined, { core: false })).toEqual([
      "pyodbc>=5.0.0",
      "sqlalchemy>=2.0.0",
      "pytest-mock>=3",
      "pytest>=7.4.0",
      "pytest-cov>=4.1.0",
    ]);
  });

  it("test files that cannot run where a declared module is missing, grouped by module", () => {
    const repo = tempDir();
    writeFiles(repo, {
      "pyproject.toml": PYPROJECT,
      "conftest.py": "import pandas\n",
      "tests/unit/test_sql.py": "import sqlalchemy\nimport pandas\n",
      "tests/unit/test_pg.py": 'with patch("sqlalchemy.create_engine"): pass\n',
      "tests/test_spark.py": 'pytest.importorskip("pyspark")\n',
      "tests/test_local.py": "import odibi\nimport json\n",
    });
    expect([...testModulesOf(repo)].sort()).toEqual(["json", "odibi", "pandas", "pyspark", "sqlalchemy"]);
    expect(unrunnableTests(repo, new Set(["pandas"]))).toEqual([
      {
        module: "sqlalchemy",
        files: ["tests/unit/test_pg.py", "tests/unit/test_sql.py"],
        requirement: "sqlalchemy>=2.0.0",
        extra: "sql",
      },
      { module: "pyspark", files: ["tests/test_spark.py"], requirement: "pyspark>=3.4.0", extra: "spark" },
    ]);
    expect(unrunnableTests(repo, new Set(["sqlalchemy", "pyspark"]))).toEqual([
      {
        module: "pandas",
        files: ["conftest.py", "tests/unit/test_sql.py"],
        requirement: "pandas>=2.0.0,<3.0.0",
      },
    ]);
  });
});

describe("config: python.extras", () => {
  it("is a list of names; mistakes are errors at their line and column", () => {
    const head = "source: {sacred_repo: x}\npython:\n";
    expect(parseConfig(`${head}  extras: [sql, polars]\n`, "config.yaml").python.extras).toEqual([
      "sql",
      "polars",
    ]);
    expect(parseConfig("source: {sacred_repo: x}\n", "config.yaml").python.extras).toBeUndefined();
    expect(() => parseConfig(`${head}  extras: sql\n`, "config.yaml")).toThrow(
      "config.yaml:3:11: python.extras: Invalid input: expected array, received string",
    );
    expect(() => parseConfig(`${head}  extra: [sql]\n`, "config.yaml")).toThrow(
      'config.yaml:3:3: python.extra: unknown key "extra"',
    );
    expect(() => parseConfig(`${head}  extras: [""]\n`, "config.yaml")).toThrow(
      "config.yaml:3:12: python.extras.0: an extra's name must not be empty",
    );
  });
});

describe("git failures in words", () => {
  it("names missing objects, shallow and partial clones, ownership, with what to do", () => {
    const missing = explainGitFailure(
      "remote: fatal: unable to read 61780798228d17af2d34fce4cfbdf35556832472\nfatal: early EOF",
      "/src",
    );
    expect(missing?.what).toMatch(/missing objects/);
    expect(missing?.todo).toMatch(/git fsck/);
    expect(
      explainGitFailure("fatal: attempt to fetch/clone from a shallow repository", "/src")?.todo,
    ).toMatch(/git fetch --unshallow/);
    expect(explainGitFailure("fatal: could not fetch abc from promisor remote", "/src")?.what).toMatch(
      /partial clone/,
    );
    expect(
      explainGitFailure("fatal: detected dubious ownership in repository at '/src'", "/src")?.todo,
    ).toContain("git config --global --add safe.directory /src");
    expect(explainGitFailure("fatal: something else", "/src")).toBeUndefined();
  });
});
