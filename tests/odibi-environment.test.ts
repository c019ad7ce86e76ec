import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { ImprovementEnvironment } from "../src/environment/environment.js";
import { git } from "../src/environment/git.js";
import { ensureProjectDependencies, readExtrasRecord } from "../src/environment/python-deps.js";
import { sitePackagesOf } from "../src/environment/python-project.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { runProcess } from "../src/exec/run-process.js";
import { profileOf } from "../src/profiles/index.js";
import { venvBin } from "../src/pyenv/python-env.js";
import { cli } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * A small repository shaped like odibi's: extras in pyproject (one the tests import, one without a wheel, one
 * unused), a CI workflow pinning ruff and checking formatting, one lint finding and one unformatted file.
 */
const TINY: Record<string, string> = {
  ".gitignore": "__pycache__/\n",
  "pyproject.toml": [
    "[project]",
    'name = "tiny"',
    'version = "0.1.0"',
    "dependencies = []",
    "[project.optional-dependencies]",
    'tab = ["tabulate==0.9.0"]',
    'nowheel = ["pandasql==0.7.3"]',
    'unused = ["six==1.16.0"]',
    'dev = ["pytest>=7"]',
    "",
  ].join("\n"),
  ".github/workflows/ci.yml": [
    "jobs:",
    "  lint:",
    "    steps:",
    "      - run: python -m pip install ruff==0.14.6",
    "      - run: ruff format --check tiny tests",
    "      - run: ruff check tiny tests",
    "",
  ].join("\n"),
  "tiny/__init__.py": "import os\n",
  "tiny/fmt.py": "x = {  'a':1 }\n",
  "tests/test_tab.py":
    'from tabulate import tabulate\n\n\ndef test_tab():\n    assert tabulate([[1, 2]], tablefmt="plain") == "1  2"\n',
  "tests/test_sql.py":
    'import pytest\n\npandasql = pytest.importorskip("pandasql")\n\n\ndef test_sql():\n    assert pandasql\n',
};

describe("odibi profile: the repository's own environment", () => {
  it("installs its extras the tests need (an unwheelable one left out), its ruff pin; gates and doctor use them", async () => {
    const base = tempDir("oi odibi env ");
    const sacred = await makeGitRepo(path.join(base, "tiny"), TINY);
    const fp = takeFingerprint(sacred).digest;
    const root = path.join(base, "improve");
    const env = await ImprovementEnvironment.init({ source: sacred, root, profile: profileOf("odibi") });
    const venv = inject("venv");
    const log: string[] = [];

    const r = await ensureProjectDependencies(env, { venv, log: (l) => log.push(l) });
    expect(r.status, JSON.stringify(r)).toBe("installed");
    expect(log.join("\n")).toMatch(/left out pandasql==0\.7\.3: ERROR: .*pandasql/);
    const record = readExtrasRecord(env.layout.state);
    expect(record).toMatchObject({
      requested: ["tab", "nowheel"],
      source: "tests",
      because: { tab: ["tabulate"], nowheel: ["pandasql"] },
      ruff: { version: "0.14.6", from: ".github/workflows/ci.yml" },
    });
    expect(Object.keys(record!.leftOut)).toEqual(["pandasql==0.7.3"]);
    // A venv of the repository's own: its python sees tabulate (a test's subprocess too, whatever its PYTHONPATH).
    const site = sitePackagesOf(path.join(root, "python_packages"));
    expect(site).toHaveLength(1);
    expect(existsSync(path.join(site[0]!, "tabulate-0.9.0.dist-info"))).toBe(true);
    expect(existsSync(path.join(site[0]!, "six-1.16.0.dist-info"))).toBe(false);
    const own = venvBin(path.join(root, "python_packages"), "python");
    const probe = await runProcess(own, ["-c", "import tabulate, pytest, coverage, sys; print(sys.prefix)"], {
      cwd: base,
      env: { PYTHONPATH: "" },
    });
    expect(probe.stdout.trim(), probe.stderr).toBe(path.join(root, "python_packages"));
    const ruff = await runProcess(path.join(root, "python_packages", "bin", "ruff"), ["--version"], {
      cwd: base,
    });
    expect(ruff.stdout.trim()).toBe("ruff 0.14.6");
    expect((await ensureProjectDependencies(env, { venv })).status).toBe("current");

    // The gates: CI's lint scope with the pinned ruff, its formatting check, the tests with tabulate importable.
    const gates = await cli(["--root", root, "gates", "--master"]);
    expect(gates.out).toContain("[lint] ruff check tiny tests");
    expect(gates.out).toContain("[lint] ruff format --check tiny tests");
    expect(gates.out).toContain("F401:tiny/__init__.py:1:8");
    expect(gates.out).toContain("format:tiny/fmt.py");
    expect(gates.out).not.toContain("needs module tabulate");
    expect(gates.out).toMatch(/\n\s*tests\s+full\s+2\s+1\s+0\b/);

    // doctor: the extras, the pin, and the tests that cannot run with why.
    const doctor = await cli(["--root", root, "doctor"]);
    expect(doctor.out).toMatch(/ok\s+extras\s+tab, nowheel \(chosen from the tests' imports\)/);
    expect(doctor.out).toMatch(/ok\s+ruff pin ruff 0\.14\.6 \(pinned by \.github\/workflows\/ci\.yml\)/);
    expect(doctor.out).toMatch(
      /missing tests:pandasql → 1 test file\(s\) using pandasql \(tests\/test_sql\.py\) cannot run here: pandasql==0\.7\.3 \(extra nowheel\) cannot be installed here/,
    );

    // Extras chosen in config: `tab` only, so tabulate's tests have no pandasql line; an unknown extra is an error.
    const config = readFileSync(env.layout.config, "utf8");
    writeFileSync(env.layout.config, `${config}\npython:\n  extras: [unused]\n`);
    const narrowed = await ensureProjectDependencies(ImprovementEnvironment.open(root), { venv });
    expect(narrowed.status).toBe("installed");
    const narrowedSite = sitePackagesOf(path.join(root, "python_packages"))[0]!;
    expect(existsSync(path.join(narrowedSite, "six-1.16.0.dist-info"))).toBe(true);
    expect(existsSync(path.join(narrowedSite, "tabulate-0.9.0.dist-info"))).toBe(false);
    const fix = await cli(["--root", root, "doctor"]);
    expect(fix.out).toContain(
      `missing tests:tabulate → 1 test file(s) using tabulate (tests/test_tab.py) cannot run here: it comes with the extra tab: set \`python: { extras: [unused, tab] }\` in ${env.layout.config}, then run \`odibi-improve gates --master --root ${root}\``,
    );
    const bad = await ensureProjectDependencies(env, { venv, extras: ["nope"] });
    expect(bad).toMatchObject({
      status: "failed",
      message: expect.stringContaining(
        'python.extras names "nope", which the project does not declare (its extras: tab, nowheel, unused, dev)',
      ),
    });
    expect(takeFingerprint(sacred).digest).toBe(fp);
  }, 300_000);
});

describe("init", () => {
  it("explains a repository with missing objects in words, with what to do; nothing is left behind", async () => {
    const base = tempDir("oi init git ");
    const sacred = await makeGitRepo(path.join(base, "src"), { "a.txt": "a\n" });
    writeFileSync(path.join(sacred, "b.txt"), "b\n");
    await git(sacred, ["add", "b.txt"]);
    await git(sacred, ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "b"]);
    const blob = (await git(sacred, ["rev-parse", "HEAD:b.txt"])).trim();
    rmSync(path.join(sacred, ".git", "objects", blob.slice(0, 2), blob.slice(2)), { force: true });
    const root = path.join(base, "improve");
    const r = await cli(["init", "--source", sacred, "--root", root, "--profile", "generic"]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(
      `could not copy your repository (${sacred}) into Master: the repository is missing objects`,
    );
    expect(r.err).toContain("git fsck");
    expect(r.err).toContain("git said:");
    expect(existsSync(path.join(root, "master"))).toBe(false);
  });

  it("says the generic profile checks nothing, and which profile the repository looks like", async () => {
    const base = tempDir("oi init generic ");
    const sacred = await makeGitRepo(path.join(base, "src"), {
      "pyproject.toml": '[project]\nname = "p"\nversion = "0.1.0"\n',
    });
    const r = await cli([
      "init",
      "--source",
      sacred,
      "--root",
      path.join(base, "improve"),
      "--profile",
      "generic",
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(
      /the generic profile has no commands: the gates check nothing until you set commands\.test/,
    );
    expect(r.err).toContain("or run init with --profile python");
  });
});
