import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { PolicySection } from "../src/config/schema.js";
import { git } from "../src/environment/git.js";
import {
  checkPolicy,
  evaluatePolicy,
  type FileReaders,
  globToRegExp,
  loadFileReaders,
  type PolicyRule,
  type PolicySettings,
  parseGitDiff,
  policyRuleOf,
} from "../src/policy/index.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * Both sides of every rule on real diffs: a temp git repo holding real odibi 3.15.1 files (its tests, its
 * transformer/pattern/CLI/connection registration files, its pyproject), a change made the way a candidate would,
 * then `git diff --binary` exactly as the environment takes it.
 */

const ODIBI_FILES = [
  "tests/test_config.py",
  "pyproject.toml",
  "odibi/transformers/__init__.py",
  "odibi/patterns/__init__.py",
  "odibi/cli/main.py",
  "odibi/connections/factory.py",
];

const EXTRA_FILES: Record<string, string> = {
  "pytest.ini": "[pytest]\ntestpaths = tests\naddopts = -q\n",
  "tests/test_math.py": [
    "import pytest",
    "",
    "",
    "def test_ratio():",
    "    assert 1 / 3 == pytest.approx(0.3333333, rel=1e-6)",
    "    assert round(2 / 3, 7) == pytest.approx(0.6666667, abs=1e-7)",
    "",
    "",
    "class TestPlaces:",
    "    def test_places(self):",
    "        import unittest",
    "",
    "        unittest.TestCase().assertAlmostEqual(1.0, 1.0000001, places=6)",
    "",
  ].join("\n"),
  "tests/sum.test.ts":
    'import { expect, it } from "vitest";\n\nit("adds", () => {\n  expect(1 + 1).toBe(2);\n});\n',
  "pkg/sum_test.go":
    'package pkg\n\nimport "testing"\n\nfunc TestSum(t *testing.T) {\n\tif 1+1 != 2 {\n\t\tt.Fatal("bad")\n\t}\n}\n',
  "pipelines/sales.yaml": "connections:\n  lake:\n    type: azure_blob\n    account_name: acct\n",
  "requirements.txt": "pandas>=2\n",
  "README.md": "# fixture\n",
};

let repo: string;
const settings: PolicySettings = PolicySection.parse({ protected_paths: ["odibi/contracts/**"] });

beforeAll(async () => {
  const src = inject("odibiSource");
  repo = path.join(tempDir(), "repo");
  await makeGitRepo(repo, EXTRA_FILES);
  for (const f of ODIBI_FILES) {
    mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
    cpSync(path.join(src, f), path.join(repo, f));
  }
  await git(repo, ["add", "-A"]);
  await git(repo, ["commit", "-q", "-m", "odibi files"]);
});

const file = (rel: string) => path.join(repo, rel);
const read = (rel: string) => readFileSync(file(rel), "utf8");
const write = (rel: string, text: string) => {
  mkdirSync(path.dirname(file(rel)), { recursive: true });
  writeFileSync(file(rel), text);
};
const edit = (rel: string, from: string | RegExp, to: string) => {
  const before = read(rel);
  const after = before.replace(from, to);
  if (after === before) throw new Error(`fixture edit found nothing to replace in ${rel}: ${from}`);
  write(rel, after);
};

interface Candidate {
  diff: string;
  readers: FileReaders;
  rules: PolicyRule[];
  messages: string[];
}

/**
 * The frozen oracle's `oracle-modified` rejects every change to a test file or checker configuration; the rules here
 * judge what such a change does, so their results leave it out (tests/policy-oracle.test.ts tests it).
 */
const ORACLE_RULE: PolicyRule = "oracle-modified";

/** Make the change, take the diff the way the environment does, judge it, restore the repo. */
async function candidate(
  change: () => void,
  opts: { settings?: PolicySettings; readers?: boolean } = {},
): Promise<Candidate> {
  try {
    change();
    await git(repo, ["add", "-A", "-N"]);
    const diff = await git(repo, ["diff", "--no-color", "--no-ext-diff", "--binary", "HEAD", "--"]);
    const readers = await loadFileReaders(repo, "HEAD", diff);
    const checks = checkPolicy(diff, opts.settings ?? settings, opts.readers === false ? undefined : readers);
    return {
      diff,
      readers,
      rules: checks.map((c) => policyRuleOf(c)!).filter((r) => r !== ORACLE_RULE),
      messages: checks.filter((c) => policyRuleOf(c) !== ORACLE_RULE).map((c) => c.message ?? ""),
    };
  } finally {
    await git(repo, ["reset", "-q"]);
    await git(repo, ["checkout", "-q", "--", "."]);
    await git(repo, ["clean", "-fdq"]);
  }
}

describe("diff parsing", () => {
  it("reads renames, deletions, binary files, modes and paths with spaces from real git output", async () => {
    const c = await candidate(() => {
      cpSync(file("README.md"), file("docs dir/read me.md"), { recursive: true });
      rmSync(file("requirements.txt"));
      write("data/blob.bin", Buffer.from([0, 1, 2, 255, 0, 7]).toString("latin1"));
    });
    const files = parseGitDiff(c.diff);
    const byPath = new Map(files.map((f) => [f.path, f]));
    expect(byPath.get("docs dir/read me.md")?.status).toBe("added");
    expect(byPath.get("docs dir/read me.md")?.added.map((l) => l.text)).toEqual(["# fixture"]);
    expect(byPath.get("requirements.txt")?.status).toBe("deleted");
    expect(byPath.get("requirements.txt")?.removed).toEqual([{ line: 1, text: "pandas>=2" }]);
    expect(byPath.get("data/blob.bin")?.binary).toBe(true);
    expect(byPath.get("tests/test_math.py")).toBeUndefined();
  });

  it("numbers added and removed lines on their own sides", () => {
    const [f] = parseGitDiff(
      "diff --git a/x.py b/x.py\nindex 1..2 100644\n--- a/x.py\n+++ b/x.py\n@@ -10,3 +10,3 @@ def f():\n a\n-b\n+B\n c\n",
    );
    expect(f?.removed).toEqual([{ line: 11, text: "b" }]);
    expect(f?.added).toEqual([{ line: 11, text: "B" }]);
    expect(f?.newMode).toBe("100644");
  });

  it("globs: ** at any depth, * within a segment, bare names anywhere", () => {
    expect(globToRegExp(".github/**").test(".github/workflows/ci.yml")).toBe(true);
    expect(globToRegExp("*.lock").test("sub/poetry.lock")).toBe(true);
    expect(globToRegExp("**/golden/**").test("golden/a.yaml")).toBe(true);
    expect(globToRegExp("odibi/*.py").test("odibi/sub/x.py")).toBe(false);
    expect(globToRegExp("odibi-improve.y{a,}ml").test("odibi-improve.yml")).toBe(true);
  });
});

describe("test-deleted", () => {
  it("catches a deleted test file and a removed test function", async () => {
    const del = await candidate(() => unlinkSync(file("tests/test_config.py")));
    expect(del.rules).toContain("test-deleted");
    const fn = await candidate(() =>
      edit(
        "tests/test_config.py",
        / {4}def test_valid_read_config_with_table\(self\):[\s\S]*?(?=\n {4}def )/,
        "",
      ),
    );
    expect(fn.rules).toEqual(["test-deleted"]);
    expect(fn.messages[0]).toContain("test_valid_read_config_with_table");
  });

  it("catches a test file renamed out of collection, and a test removed when only the diff is known", async () => {
    const ren = await candidate(() => {
      cpSync(file("tests/test_math.py"), file("tests/math_checks.py"));
      unlinkSync(file("tests/test_math.py"));
    });
    expect(ren.rules).toContain("test-deleted");
    const diffOnly = await candidate(
      () => edit("tests/test_math.py", /def test_ratio\(\):[\s\S]*?\n\n\n/, ""),
      {
        readers: false,
      },
    );
    expect(diffOnly.rules).toContain("test-deleted");
  });

  it("lets through a test moved to another file, and a new test", async () => {
    const moved = await candidate(() => {
      const text = read("tests/test_math.py");
      const block = /def test_ratio\(\):[\s\S]*?\n\n\n/.exec(text)![0];
      write("tests/test_math.py", text.replace(block, ""));
      write("tests/test_ratio.py", `import pytest\n\n\n${block}`);
    });
    expect(moved.rules).toEqual([]);
    const added = await candidate(() =>
      write(
        "tests/test_math.py",
        `${read("tests/test_math.py")}\n\ndef test_more():\n    assert 2 * 2 == 4\n`,
      ),
    );
    expect(added.rules).toEqual([]);
  });
});

describe("test-skipped", () => {
  it("catches pytest, unittest, vitest and go skips", async () => {
    const py = await candidate(() =>
      edit(
        "tests/test_config.py",
        "    def test_valid_read_config_with_table(self):",
        '    @pytest.mark.skip(reason="flaky")\n    def test_valid_read_config_with_table(self):',
      ),
    );
    expect(py.rules).toEqual(["test-skipped"]);
    const xfail = await candidate(() =>
      edit("tests/test_math.py", "def test_ratio():", "@pytest.mark.xfail\ndef test_ratio():"),
    );
    expect(xfail.rules).toEqual(["test-skipped"]);
    const ts = await candidate(() => edit("tests/sum.test.ts", 'it("adds"', 'it.skip("adds"'));
    expect(ts.rules).toEqual(["test-skipped"]);
    const go = await candidate(() => edit("pkg/sum_test.go", "\tif 1+1", '\tt.Skip("later")\n\tif 1+1'));
    expect(go.rules).toEqual(["test-skipped"]);
    const dunder = await candidate(() =>
      write("tests/test_math.py", `__test__ = False\n${read("tests/test_math.py")}`),
    );
    expect(dunder.rules).toContain("test-skipped");
  });

  it("lets through a test that mentions skipping in names and strings, and an unchanged skip moved within a file", async () => {
    const named = await candidate(() =>
      write(
        "tests/test_math.py",
        `${read("tests/test_math.py")}\n\ndef test_skip_rows_option():\n    assert "skip" in "skip_rows"\n`,
      ),
    );
    expect(named.rules).toEqual([]);
  });
});

describe("assert-weakened", () => {
  it("catches assert True, a commented-out assert, a removed assert", async () => {
    const trivial = await candidate(() =>
      edit("tests/test_config.py", 'assert config.table == "sales_bronze"', "assert True"),
    );
    expect(trivial.rules).toEqual(["assert-weakened", "assert-weakened"]);
    expect(trivial.messages.join("\n")).toMatch(/cannot fail[\s\S]*dropped from 2 to 1/);
    const commented = await candidate(() =>
      edit(
        "tests/test_config.py",
        'assert config.table == "sales_bronze"',
        '# assert config.table == "sales_bronze"',
      ),
    );
    expect(commented.rules).toContain("assert-weakened");
    expect(commented.messages.join("\n")).toContain("commented out");
    const removed = await candidate(() =>
      edit("tests/test_config.py", '        assert config.table == "sales_bronze"\n', ""),
    );
    expect(removed.rules).toEqual(["assert-weakened"]);
    const removedDiffOnly = await candidate(
      () => edit("tests/test_config.py", '        assert config.table == "sales_bronze"\n', ""),
      {
        readers: false,
      },
    );
    expect(removedDiffOnly.rules).toEqual(["assert-weakened"]);
  });

  it("catches widened tolerances (rel, abs, places) and a tolerance added to an exact check", async () => {
    const rel = await candidate(() => edit("tests/test_math.py", "rel=1e-6", "rel=0.5"));
    expect(rel.rules).toEqual(["assert-weakened"]);
    expect(rel.messages[0]).toContain("rel widened from 0.000001 to 0.5");
    const places = await candidate(() => edit("tests/test_math.py", "places=6", "places=1"));
    expect(places.rules).toEqual(["assert-weakened"]);
    const added = await candidate(() =>
      edit(
        "tests/test_config.py",
        'assert config.table == "sales_bronze"',
        'assert config.table == pytest.approx("sales_bronze", abs=1)',
      ),
    );
    expect(added.rules).toContain("assert-weakened");
  });

  it("lets through a rewritten assertion, a tightened tolerance and extra assertions", async () => {
    const rewritten = await candidate(() =>
      edit(
        "tests/test_config.py",
        'assert config.table == "sales_bronze"',
        'assert config.table == "sales_" + "bronze"',
      ),
    );
    expect(rewritten.rules).toEqual([]);
    const tighter = await candidate(() => edit("tests/test_math.py", "rel=1e-6", "rel=1e-9"));
    expect(tighter.rules).toEqual([]);
    const more = await candidate(() =>
      edit(
        "tests/test_config.py",
        'assert config.table == "sales_bronze"',
        'assert config.table == "sales_bronze"\n        assert config.path is None',
      ),
    );
    expect(more.rules).toEqual([]);
  });
});

describe("collection-narrowed", () => {
  it("catches pyproject testpaths, pytest.ini --deselect / -k, and conftest hooks", async () => {
    const testpaths = await candidate(() =>
      edit("pyproject.toml", 'testpaths = ["tests"]', 'testpaths = ["tests/unit"]'),
    );
    expect(testpaths.rules).toEqual(["collection-narrowed"]);
    const deselect = await candidate(() =>
      edit("pytest.ini", "addopts = -q", "addopts = -q --deselect tests/test_math.py::test_ratio"),
    );
    expect(deselect.rules).toEqual(["collection-narrowed"]);
    const k = await candidate(() => edit("pytest.ini", "addopts = -q", 'addopts = -q -k "not ratio"'));
    expect(k.rules).toEqual(["collection-narrowed"]);
    const hook = await candidate(() =>
      write(
        "tests/conftest.py",
        "def pytest_collection_modifyitems(config, items):\n    items[:] = [i for i in items if 'ratio' not in i.name]\n",
      ),
    );
    expect(hook.rules).toContain("collection-narrowed");
  });

  it("lets through pyproject changes outside pytest's section and a plain fixture in conftest", async () => {
    const ruff = await candidate(() =>
      edit("pyproject.toml", "[tool.mypy]", '[tool.mypy]\nexclude = ["build"]'),
    );
    expect(ruff.rules).toEqual([]);
    const fixture = await candidate(() =>
      write("tests/conftest.py", "import pytest\n\n\n@pytest.fixture\ndef rows():\n    return [1, 2, 3]\n"),
    );
    expect(fixture.rules).toEqual([]);
  });
});

describe("protected-path", () => {
  it("catches CI files, lock files, golden configs and configured globs", async () => {
    const c = await candidate(() => {
      write(".github/workflows/ci.yml", "on: push\n");
      write("poetry.lock", "# lock\n");
      write("examples/golden/sales.yaml", "pipelines: []\n");
      write("odibi/contracts/orders.yaml", "x: 1\n");
    });
    expect(c.rules.filter((r) => r === "protected-path")).toHaveLength(4);
  });

  it("lets through ordinary source and docs edits", async () => {
    const c = await candidate(() => edit("README.md", "# fixture", "# fixture\n\nMore words."));
    expect(c.rules).toEqual([]);
  });
});

describe("forbidden-connection", () => {
  it("catches boto3 and google.cloud imports, s3/gcs connection types, URIs and dependencies", async () => {
    const c = await candidate(() => {
      edit(
        "odibi/connections/factory.py",
        '"""Connection factory for built-in connection types."""',
        '"""Connection factory for built-in connection types."""\nimport boto3\nfrom google.cloud import storage',
      );
      edit("pipelines/sales.yaml", "type: azure_blob", "type: s3");
      write("odibi/lake.py", 'LANDING = "s3a://bucket/landing"\n');
      edit("requirements.txt", "pandas>=2", "pandas>=2\nboto3==1.34.0");
    });
    const forbidden = c.messages.filter((m) => m.startsWith("[forbidden-connection]"));
    expect(forbidden.map((m) => /"([^"]+)"/.exec(m)?.[1]).sort()).toEqual([
      "boto3",
      "boto3",
      "google.cloud",
      "s3",
      "s3",
    ]);
  });

  it("catches a new odibi connection type registered for gcs", async () => {
    const c = await candidate(() =>
      edit(
        "odibi/connections/factory.py",
        '    register_connection_factory("local", create_local_connection)',
        '    register_connection_factory("local", create_local_connection)\n    register_connection_factory("gcs", create_local_connection)',
      ),
    );
    expect(c.rules).toContain("forbidden-connection");
  });

  it("lets through Azure connections, docs that mention S3 and names that merely contain s3", async () => {
    const c = await candidate(() => {
      edit("pipelines/sales.yaml", "type: azure_blob", "type: azure_adls");
      edit("README.md", "# fixture", "# fixture\n\nS3 (s3://bucket) is not supported; use ADLS.");
      write("odibi/util_paths.py", "def is_s3_like(path):\n    return False\n");
    });
    expect(c.rules.filter((r) => r === "forbidden-connection")).toEqual([]);
  });
});

describe("new-feature", () => {
  it("catches a transformer, a pattern, a CLI command, a connection type and a public module", async () => {
    const c = await candidate(() => {
      edit(
        "odibi/transformers/__init__.py",
        '    registry.register(sql_core.sort, "sort", sql_core.SortParams)',
        '    registry.register(sql_core.sort, "sort", sql_core.SortParams)\n    registry.register(sql_core.sort, "sort_desc", sql_core.SortParams)',
      );
      edit(
        "odibi/patterns/__init__.py",
        '    "fact": FactPattern,',
        '    "fact": FactPattern,\n    "snapshot": FactPattern,',
      );
      edit(
        "odibi/cli/main.py",
        '    doctor_parser = subparsers.add_parser("doctor"',
        '    subparsers.add_parser("purge", help="Delete outputs")\n    doctor_parser = subparsers.add_parser("doctor"',
      );
      edit(
        "odibi/connections/factory.py",
        '    register_connection_factory("local", create_local_connection)',
        '    register_connection_factory("local", create_local_connection)\n    register_connection_factory("sftp", create_local_connection)',
      );
      write("odibi/extras.py", "def helper():\n    return 1\n");
    });
    const msgs = c.messages.filter((m) => m.startsWith("[new-feature]")).join("\n");
    expect(msgs).toContain('transformer "sort_desc"');
    expect(msgs).toContain('pattern "snapshot"');
    expect(msgs).toContain('cli-command "purge"');
    expect(msgs).toContain('connection-type "sftp"');
    expect(msgs).toContain("odibi/extras.py");
    expect(c.rules.filter((r) => r === "new-feature")).toHaveLength(5);
  });

  it("catches a transformer added with the @transform decorator", async () => {
    const d = await candidate(() =>
      edit(
        "odibi/transformers/__init__.py",
        "def register_standard_library():",
        '@transform("double_it")\ndef double_it(df):\n    return df\n\n\ndef register_standard_library():',
      ),
    );
    expect(d.messages.join("\n")).toContain('transformer "double_it"');
  });

  it("lets through a reformatted registration, a private module, a bug fix, and anything when allow_new_features is true", async () => {
    const reformatted = await candidate(() =>
      edit(
        "odibi/transformers/__init__.py",
        '    registry.register(sql_core.sort, "sort", sql_core.SortParams)',
        '    registry.register(\n        sql_core.sort,\n        "sort",\n        sql_core.SortParams,\n    )',
      ),
    );
    expect(reformatted.rules).toEqual([]);
    const priv = await candidate(() => write("odibi/_internal_cache.py", "CACHE = {}\n"));
    expect(priv.rules).toEqual([]);
    const allowed = await candidate(
      () => {
        edit(
          "odibi/patterns/__init__.py",
          '    "fact": FactPattern,',
          '    "fact": FactPattern,\n    "snapshot": FactPattern,',
        );
        write("odibi/extras.py", "X = 1\n");
      },
      { settings: { ...settings, allow_new_features: true } },
    );
    expect(allowed.rules).toEqual([]);
  });
});

describe("size-limit, binary-file, outside-repo", () => {
  it("catches too many files, too many lines, binary files, symlinks out of the repo", async () => {
    const many = await candidate(
      () => {
        for (let i = 0; i < 4; i++) write(`notes/n${i}.md`, "x\n".repeat(3));
      },
      { settings: { ...settings, max_files_changed: 3, max_lines_changed: 10 } },
    );
    expect(many.rules).toEqual(["size-limit", "size-limit"]);
    const binary = await candidate(() =>
      write("data/blob.bin", Buffer.from([0, 159, 146, 150, 0]).toString("latin1")),
    );
    expect(binary.rules).toEqual(["binary-file"]);
    const links = await candidate(() => {
      symlinkSync("/etc/passwd", file("passwd"));
      symlinkSync("../../sacred/secret.txt", file("docs-link"));
    });
    expect(links.rules).toEqual(["outside-repo", "outside-repo"]);
  });

  it("lets through a small change and a symlink inside the repo", async () => {
    const c = await candidate(() => symlinkSync("README.md", file("READ_THIS.md")));
    expect(c.rules).toEqual([]);
  });

  it("judges a diff with no readers from the diff alone, and an empty diff as clean", () => {
    expect(evaluatePolicy("", settings)).toEqual([]);
    expect(checkPolicy("", settings)).toEqual([]);
  });
});
