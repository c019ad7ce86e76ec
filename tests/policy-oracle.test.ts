import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { PolicySection } from "../src/config/schema.js";
import { git } from "../src/environment/git.js";
import {
  checkPolicy,
  isTestFileName,
  loadFileReaders,
  oracleGlobOf,
  oracleGlobs,
  type PolicyRule,
  type PolicySettings,
  policyRuleOf,
  restoreOracle,
  rustTestRanges,
} from "../src/policy/index.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * The frozen oracle (issue 10, item 1) on real git diffs: each attack measured on main, made the way a candidate
 * would make it, must be rejected by a rule; a fix to the code under test must not be; and restoreOracle must put
 * Master's oracle back over a candidate without following its links.
 */

const TEST_CALC =
  "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n";

const FILES: Record<string, string> = {
  "calc.py": "import math\n\n\ndef add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
  "tests/test_calc.py": TEST_CALC,
  "tests/conftest.py": "import pytest\n\n\n@pytest.fixture\ndef rows():\n    return [1, 2]\n",
  "pyproject.toml": [
    "[project]",
    'name = "calc"',
    'description = "adds"',
    "",
    "[tool.pytest.ini_options]",
    'testpaths = ["tests"]',
    "",
    "[tool.ruff]",
    "line-length = 100",
    "",
  ].join("\n"),
  "setup.cfg":
    "[metadata]\nname = calc\n\n[options]\ninstall_requires =\n    six\n\n[flake8]\nmax-line-length = 100\n",
  "src/mypkg/__init__.py": "",
  "src/mypkg/core.py": "def f():\n    return 1\n",
  "shapes/__init__.py": "",
  "shapes/area.py": "def square(a):\n    return a * a\n",
  "package.json": JSON.stringify(
    { name: "n", scripts: { test: "vitest run", build: "tsc" }, imports: { "#lib": "./lib.js" } },
    null,
    2,
  ),
  "Cargo.toml":
    '[package]\nname = "r"\n\n[dependencies]\nserde = "1"\n\n[lints.rust]\nunsafe_code = "forbid"\n',
  "src/lib.rs": [
    "pub fn add(a: i32, b: i32) -> i32 {",
    "    a - b",
    "}",
    "",
    "#[cfg(test)]",
    "mod tests {",
    "    use super::*;",
    "",
    "    #[test]",
    "    fn adds() {",
    '        assert_eq!(add(2, 3), 5, "{}", "}");',
    "    }",
    "}",
    "",
  ].join("\n"),
  ".gitignore": "build/\n",
};

let repo: string;
const settings: PolicySettings = PolicySection.parse({});

beforeAll(async () => {
  repo = await makeGitRepo(path.join(tempDir(), "repo"), FILES);
});

const file = (rel: string) => path.join(repo, rel);
const read = (rel: string) => readFileSync(file(rel), "utf8");
const write = (rel: string, text: string) => {
  mkdirSync(path.dirname(file(rel)), { recursive: true });
  writeFileSync(file(rel), text);
};
const edit = (rel: string, from: string, to: string) => {
  const before = read(rel);
  if (!before.includes(from)) throw new Error(`fixture edit found nothing to replace in ${rel}: ${from}`);
  write(rel, before.replace(from, to));
};

/** Make the change, judge its diff as the campaign does (readers loaded), restore the repo. */
async function judge(change: () => void): Promise<{ rules: PolicyRule[]; messages: string[] }> {
  try {
    change();
    await git(repo, ["add", "-A", "-N"]);
    const diff = await git(repo, ["diff", "--no-color", "--no-ext-diff", "--binary", "HEAD", "--"]);
    const checks = checkPolicy(diff, settings, await loadFileReaders(repo, "HEAD", diff));
    return {
      rules: [...new Set(checks.map((c) => policyRuleOf(c)!))],
      messages: checks.map((c) => c.message!),
    };
  } finally {
    await git(repo, ["reset", "-q"]);
    await git(repo, ["checkout", "-q", "--", "."]);
    await git(repo, ["clean", "-fdxq"]);
  }
}

const fixAdd = () => edit("calc.py", "return a - b", "return a + b");

describe("oracle-modified: the weakened tests measured on main", () => {
  const attacks: Array<[string, () => void]> = [
    ["expected value changed to the buggy result", () => edit("tests/test_calc.py", "== 5", "== -1")],
    [
      "early return in a test",
      () => edit("tests/test_calc.py", "def test_add():\n", "def test_add():\n    return\n"),
    ],
    ["`or True`", () => edit("tests/test_calc.py", "assert add(2, 3) == 5", "assert add(2, 3) == 5 or True")],
    [
      "try/except AssertionError",
      () =>
        edit(
          "tests/test_calc.py",
          "    assert add(2, 3) == 5\n",
          "    try:\n        assert add(2, 3) == 5\n    except AssertionError:\n        pass\n",
        ),
    ],
    [
      "a conftest.py hook monkeypatching the code under test",
      () =>
        write(
          "conftest.py",
          "import calc\n\n\ndef pytest_configure(config):\n    calc.add = lambda a, b: a + b\n",
        ),
    ],
    [
      "the test name rebound to a no-op",
      () => write("tests/test_calc.py", `${TEST_CALC}\n\ndef test_add():\n    pass\n`),
    ],
    [
      "pytest configuration as pytest.toml",
      () => write("pytest.toml", '[pytest]\naddopts = ["-k", "mul"]\n'),
    ],
    ["pytest configuration as .pytest.ini", () => write(".pytest.ini", "[pytest]\naddopts = -k mul\n")],
    [
      "pyproject's pytest section (pythonpath to a shadow package)",
      () => edit("pyproject.toml", 'testpaths = ["tests"]', 'testpaths = ["tests"]\npythonpath = ["fake"]'),
    ],
    [
      "ruff settings as dotted keys of [tool]",
      () =>
        edit(
          "pyproject.toml",
          "[tool.ruff]\nline-length = 100",
          '[tool]\nruff.line-length = 100\nruff.lint.ignore = ["F"]',
        ),
    ],
    [
      "ruff configuration in pyproject",
      () => edit("pyproject.toml", "line-length = 100", "line-length = 400"),
    ],
    ["a new ruff.toml", () => write("ruff.toml", 'lint.ignore = ["ALL"]\n')],
    ["a new .ruff.toml in a subfolder", () => write("shapes/.ruff.toml", "[lint]\nselect = []\n")],
    ["flake8 section of setup.cfg", () => edit("setup.cfg", "max-line-length = 100", "extend-ignore = F")],
    [
      "Rust test item changed",
      () => edit("src/lib.rs", 'assert_eq!(add(2, 3), 5, "{}", "}");', "assert!(true);"),
    ],
    ["package.json scripts.test", () => edit("package.json", '"test": "vitest run"', '"test": "true"')],
    ["Cargo [lints]", () => edit("Cargo.toml", 'unsafe_code = "forbid"', 'unsafe_code = "allow"')],
  ];
  for (const [name, change] of attacks)
    it(`rejects: ${name}`, async () => {
      const r = await judge(() => {
        fixAdd();
        change();
      });
      expect(r.rules).toContain("oracle-modified");
    });

  it("names the path and the glob, or the mixed file's part", async () => {
    const conftest = await judge(() => write("conftest.py", "x = 1\n"));
    expect(conftest.messages.join("\n")).toMatch(
      /\[oracle-modified\] oracle file added \(matches conftest\.py\).* in conftest\.py/,
    );
    const dotted = await judge(() =>
      edit(
        "pyproject.toml",
        "[tool.ruff]\nline-length = 100",
        '[tool]\nruff.line-length = 100\nruff.lint.ignore = ["F"]',
      ),
    );
    expect(dotted.messages.join("\n")).toMatch(
      /test or checker configuration changed: tool\.ruff in pyproject\.toml/,
    );
  });

  it("lets through the fix itself and changes outside the oracle parts of mixed files", async () => {
    expect((await judge(fixAdd)).rules).toEqual([]);
    const mixed = await judge(() => {
      fixAdd();
      edit("pyproject.toml", 'description = "adds"', 'description = "adds numbers"');
      edit("setup.cfg", "    six", "    six>=1.16");
      edit("package.json", '"build": "tsc"', '"build": "tsc -p ."');
      edit("Cargo.toml", 'serde = "1"', 'serde = "1.0.200"');
      edit("src/lib.rs", "    a - b\n", "    a + b\n");
    });
    expect(mixed.rules).toEqual([]);
  });

  it("reads the oracle per profile, case-insensitively", () => {
    expect(oracleGlobOf("Tests/Conftest.py", oracleGlobs("python"))).toBeDefined();
    expect(oracleGlobOf("pkg/calc_test.go", oracleGlobs("go"))).toBe("*_test.go");
    expect(oracleGlobOf("pkg/calc_test.go", oracleGlobs("python"))).toBeUndefined();
    expect(oracleGlobOf("src/sum.spec.ts", oracleGlobs("node"))).toBe("*.spec.*");
    expect(oracleGlobOf("crates/a/benches/b.rs", oracleGlobs("rust"))).toBe("**/benches/**");
    expect(oracleGlobOf("calc.py", oracleGlobs("generic"))).toBeUndefined();
  });

  it("finds Rust test items by their braces, strings and comments aside", () => {
    expect(rustTestRanges(FILES["src/lib.rs"]!)).toEqual([[5, 13]]);
    expect(rustTestRanges("#[cfg(test)]\nmod tests;\nfn x() {}\n")).toEqual([[1, 2]]);
  });
});

describe("suppression-added", () => {
  const forms: Array<[string, string, string]> = [
    ["calc.py", "import math\n", "import math  # noqa\n"],
    ["calc.py", "import math\n", "import math  # noqa: F401\n"],
    ["calc.py", "import math\n", "# ruff: noqa\nimport math\n"],
    ["calc.py", "import math\n", "# flake8: noqa\nimport math\n"],
    ["calc.py", "return a * b", "return a * b  # type: ignore[operator]"],
    ["calc.py", "def mul(a, b):", "def mul(a, b):  # pragma: no cover"],
    ["calc.py", "def mul(a, b):", "def mul(a, b):  # pylint: disable=invalid-name"],
    ["src/lib.rs", "pub fn add", "#[allow(clippy::all)]\npub fn add"],
    ["src/lib.rs", "pub fn add", "#![allow(unused)]\npub fn add"],
  ];
  for (const [f, from, to] of forms)
    it(`rejects ${to.trim().split("\n")[0]}`, async () => {
      expect((await judge(() => edit(f, from, to))).rules).toContain("suppression-added");
    });

  it("rejects JS and Go forms in new files too", async () => {
    const r = await judge(() => {
      write("lib/a.ts", "// eslint-disable-next-line\n// @ts-expect-error\nconst x: number = 'a';\n");
      write("lib/b.go", "package lib\n\nvar x = 1 //nolint\n");
      write("lib/c.js", "// biome-ignore lint: no\nexport const y = 1;\n");
    });
    expect(r.messages.filter((m) => m.startsWith("[suppression-added]"))).toHaveLength(4);
  });

  it("lets through a suppression moved, not added", async () => {
    await git(repo, ["checkout", "-q", "-b", "with-noqa"]);
    try {
      edit("calc.py", "import math\n", "import math  # noqa: F401\n");
      await git(repo, ["commit", "-qam", "noqa"]);
      const moved = await judge(() => {
        edit("calc.py", "import math  # noqa: F401\n", "");
        edit("calc.py", "    return a * b\n", "    return a * b\n\n\nimport math  # noqa: F401\n");
      });
      expect(moved.rules).toEqual([]);
    } finally {
      await git(repo, ["checkout", "-q", "main"]);
      await git(repo, ["branch", "-q", "-D", "with-noqa"]);
    }
  });
});

describe("import-path-changed", () => {
  const attacks: Array<[string, () => void]> = [
    ["sitecustomize.py", () => write("sitecustomize.py", "import calc\ncalc.add = lambda a, b: 5\n")],
    ["a .pth file", () => write("shapes/x.pth", "import calc\n")],
    [
      "sys.path in code",
      () => edit("calc.py", "import math\n", "import math\nimport sys\n\nsys.path.insert(0, 'fake')\n"),
    ],
    [
      "sys.modules substitution",
      () => edit("calc.py", "import math\n", "import math\nimport sys\n\nsys.modules['shapes'] = math\n"),
    ],
    [
      "PYTHONPATH set by the code",
      () => edit("calc.py", "import math\n", "import math\nimport os\n\nos.environ['PYTHONPATH'] = 'fake'\n"),
    ],
    ["PYTHONPATH in a .env file", () => write(".env", "PYTHONPATH=fake\n")],
    ["a module named like a test-time import", () => write("pytest.py", "def main():\n    return 0\n")],
    [
      "a package at the root shadowing src/mypkg",
      () => write("mypkg/__init__.py", "def f():\n    return 2\n"),
    ],
    ["a namespace folder at the root", () => write("mypkg/core.py", "def f():\n    return 2\n")],
    ["a module beside a package of that name", () => write("shapes.py", "def square(a):\n    return 0\n")],
    [
      "a package beside a module of that name",
      () => write("calc/__init__.py", "def add(a, b):\n    return a + b\n"),
    ],
    [
      "setup.cfg package_dir",
      () => edit("setup.cfg", "install_requires =", "package_dir =\n    = fake\ninstall_requires ="),
    ],
    ["package.json imports", () => edit("package.json", '"#lib": "./lib.js"', '"#lib": "./fake.js"')],
    ["a file under node_modules/", () => write("node_modules/vitest/index.js", "export {};\n")],
  ];
  for (const [name, change] of attacks)
    it(`rejects: ${name}`, async () => {
      expect((await judge(change)).rules).toContain("import-path-changed");
    });

  it("lets through a new module inside an existing package", async () => {
    const r = await judge(() => {
      write("src/mypkg/helpers.py", "def g():\n    return 2\n");
      write("shapes/volume.py", "def cube(a):\n    return a ** 3\n");
    });
    expect(r.rules).not.toContain("import-path-changed");
  });
});

describe("restoreOracle", () => {
  it("puts Master's oracle back over a committed candidate, keeps the fix, removes what Master lacks", async () => {
    const dir = await makeGitRepo(path.join(tempDir(), "sandbox"), { ...FILES, "tox.ini": "[tox]\n" });
    const base = (await git(dir, ["rev-parse", "HEAD"])).trim();
    const w = (rel: string, text: string) => {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), text);
    };
    w("calc.py", FILES["calc.py"]!.replace("a - b", "a + b"));
    w("tests/test_calc.py", TEST_CALC.replace("== 5", "== -1"));
    rmSync(path.join(dir, "tests/conftest.py"));
    w("pytest.toml", "[pytest]\n");
    w("shapes/.ruff.toml", "[lint]\n");
    // An oracle file replaced by a folder: what is in the folder is in the way of Master's file.
    rmSync(path.join(dir, "tox.ini"));
    w("tox.ini/notes.txt", "x\n");
    await git(dir, ["add", "-A"]);
    await git(dir, ["commit", "-qm", "candidate"]);
    // What gates or the candidate's code write after the freeze: untracked, and ignored.
    w("tests/test_extra.py", "def test_x():\n    pass\n");
    w("build/conftest.py", "x = 1\n");

    const restored = await restoreOracle(dir, base, oracleGlobs("python"));
    expect(restored).toEqual([
      "build/conftest.py",
      "pytest.toml",
      "shapes/.ruff.toml",
      "tests/conftest.py",
      "tests/test_calc.py",
      "tests/test_extra.py",
      "tox.ini",
      "tox.ini/notes.txt",
    ]);
    expect(readFileSync(path.join(dir, "tests/test_calc.py"), "utf8")).toBe(TEST_CALC);
    expect(readFileSync(path.join(dir, "tox.ini"), "utf8")).toBe("[tox]\n");
    expect(readFileSync(path.join(dir, "tests/conftest.py"), "utf8")).toBe(FILES["tests/conftest.py"]);
    for (const gone of ["pytest.toml", "shapes/.ruff.toml", "tests/test_extra.py", "build/conftest.py"])
      expect(existsSync(path.join(dir, gone))).toBe(false);
    expect(readFileSync(path.join(dir, "calc.py"), "utf8")).toContain("a + b");
    // Nothing left to restore the second time.
    expect(await restoreOracle(dir, base, oracleGlobs("python"))).toEqual([]);
  });

  it("a new-feature candidate keeps its new test files (keepNew); changed tests and new config still go", async () => {
    const dir = await makeGitRepo(path.join(tempDir(), "sandbox"), FILES);
    const base = (await git(dir, ["rev-parse", "HEAD"])).trim();
    writeFileSync(path.join(dir, "tests/test_chain.py"), "def test_chain():\n    assert True\n");
    writeFileSync(path.join(dir, "tests/test_calc.py"), TEST_CALC.replace("== 5", "== -1"));
    writeFileSync(path.join(dir, "pytest.toml"), "[pytest]\n");
    const restored = await restoreOracle(dir, base, oracleGlobs("python"), isTestFileName);
    expect(restored).toEqual(["pytest.toml", "tests/test_calc.py"]);
    expect(existsSync(path.join(dir, "tests/test_chain.py"))).toBe(true);
    expect(readFileSync(path.join(dir, "tests/test_calc.py"), "utf8")).toBe(TEST_CALC);
  });

  it("replaces a symlink planted where the tests folder was, and never writes through it", async () => {
    const dir = await makeGitRepo(path.join(tempDir(), "sandbox"), FILES);
    const base = (await git(dir, ["rev-parse", "HEAD"])).trim();
    const outside = path.join(tempDir(), "outside");
    mkdirSync(outside);
    writeFileSync(path.join(outside, "test_calc.py"), "def test_add():\n    pass\n");
    rmSync(path.join(dir, "tests"), { recursive: true });
    symlinkSync(outside, path.join(dir, "tests"));
    symlinkSync(path.join(outside, "test_calc.py"), path.join(dir, "conftest.py"));

    const restored = await restoreOracle(dir, base, oracleGlobs("python"));
    expect(restored).toEqual(["conftest.py", "tests", "tests/conftest.py", "tests/test_calc.py"]);
    expect(lstatSync(path.join(dir, "tests")).isDirectory()).toBe(true);
    expect(readFileSync(path.join(dir, "tests/test_calc.py"), "utf8")).toBe(TEST_CALC);
    expect(existsSync(path.join(dir, "conftest.py"))).toBe(false);
    expect(readFileSync(path.join(outside, "test_calc.py"), "utf8")).toBe("def test_add():\n    pass\n");
    unlinkSync(path.join(outside, "test_calc.py"));
  });
});
