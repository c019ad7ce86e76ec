import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { ImprovementEnvironment } from "../src/environment/environment.js";
import { git, statusLines } from "../src/environment/git.js";
import {
  ensurePythonDependencies,
  pythonGatePath,
  pythonRequirements,
} from "../src/environment/python-deps.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { probeIsolation } from "../src/exec/jail.js";
import { cli, jsonl } from "./campaign-cli.js";
import { makeGitRepo, tempDir, writeFiles } from "./helpers.js";

describe("python requirements from a repository's files", () => {
  it("reads pyproject dependencies, test/dev extras and groups; never the project itself", () => {
    const pyproject = `
[project]
name = "My_Proj"
dependencies = ["tabulate>=0.9", "requests[socks] ; python_version >= '3.8'"]
[project.optional-dependencies]
test = ["pytest-mock", "my-proj[extra]"]
docs = ["sphinx"]
[dependency-groups]
dev = ["hypothesis", { include-group = "test" }]
`;
    expect(pythonRequirements({ pyproject })).toEqual({
      requirements: [
        "tabulate>=0.9",
        "requests[socks] ; python_version >= '3.8'",
        "pytest-mock",
        "hypothesis",
      ],
      skipped: [],
    });
  });

  it("reads requirements files; editable installs, local paths, URLs, nested files and options are left out", () => {
    const text = [
      "# pinned",
      "six==1.16.0  # why",
      "",
      "-e .",
      "-r other.txt",
      "--index-url https://example.com/simple",
      "./libs/local_pkg",
      "git+https://example.com/x.git#egg=x",
      "six==1.16.0",
      "attrs",
    ].join("\n");
    expect(pythonRequirements({ requirementFiles: [{ name: "requirements.txt", text }] })).toEqual({
      requirements: ["six==1.16.0", "attrs"],
      skipped: [
        "requirements.txt: -e .",
        "requirements.txt: -r other.txt",
        "requirements.txt: --index-url https://example.com/simple",
        "requirements.txt: ./libs/local_pkg",
        "requirements.txt: git+https://example.com/x.git#egg=x",
      ],
    });
  });

  it("PYTHONPATH: the tree's src/ (src layout) and the installed packages, when they exist", () => {
    const tree = tempDir();
    const pkgs = tempDir();
    expect(pythonGatePath(tree, pkgs)).toEqual([pkgs]);
    writeFiles(tree, { "src/tabs/__init__.py": "" });
    expect(pythonGatePath(tree, path.join(pkgs, "absent"))).toEqual([path.join(tree, "src")]);
  });
});

/** A src-layout python repository that needs `tabulate` from PyPI, with one ruff-fixable lint error. */
function pythonRepo(dependency: string): Record<string, string> {
  return {
    ".gitignore": "__pycache__/\n",
    "pyproject.toml": `[project]\nname = "tabs"\nversion = "0.1.0"\ndependencies = ["${dependency}"]\n`,
    "src/tabs/__init__.py": "",
    "src/tabs/render.py": `import os\n\nfrom tabulate import tabulate\n\n\ndef table(rows):\n    return tabulate(rows, tablefmt="plain")\n`,
    "tests/test_tabs.py": `from tabs.render import table\n\n\ndef test_table():\n    assert table([[1, 2]]) == "1  2"\n`,
  };
}

describe("python profile: the repository's packages", () => {
  it("init installs them into <root>/python_packages; gates and a jailed campaign use them; no tree is written", async () => {
    const base = tempDir("oi py deps ");
    const sacred = await makeGitRepo(path.join(base, "tabs"), pythonRepo("tabulate==0.9.0"));
    const fp = takeFingerprint(sacred).digest;
    const root = path.join(base, "improve");

    const init = await cli(["init", "--source", sacred, "--root", root]);
    expect(init.code, init.err).toBe(0);
    expect(init.out).toContain("Profile: python");
    expect(init.out).toMatch(
      /python dependencies: pip install --only-binary=:all: .* tabulate==0\.9\.0 \(from Master's pyproject\.toml\)/,
    );
    expect(existsSync(path.join(root, "python_packages", "tabulate", "__init__.py"))).toBe(true);

    // The src-layout package and tabulate import: the test passes; ruff finds the unused import.
    const gates = await cli(["--root", root, "gates"]);
    expect(gates.out).toMatch(/\n\s*tests\s+full\s+1\s+1\s+0\b/);
    expect(gates.out).toContain("F401:src/tabs/render.py:1:8");

    const run = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "3", "--convergence", "1"]);
    expect(run.code, run.err).toBe(0);
    if ((await probeIsolation()).available) expect(run.out).toContain("isolation: bwrap");
    const master = path.join(root, "master");
    expect(readFileSync(path.join(master, "src/tabs/render.py"), "utf8")).not.toContain("import os");
    expect(
      jsonl(path.join(root, "memory", "lessons.jsonl")).filter((l) => l.outcome === "promoted"),
    ).toHaveLength(1);
    expect(await statusLines(master)).toEqual([]);
    expect(await git(master, ["show", "--stat", "--format=", "HEAD"])).not.toContain("python_packages");
    expect(takeFingerprint(sacred).digest).toBe(fp);

    // Current until the requirements change.
    const env = ImprovementEnvironment.open(root);
    expect((await ensurePythonDependencies(env, { venv: inject("venv") })).status).toBe("current");
  });

  it("a requirement pip cannot install is a warning; the import failures it causes need a module, not work", async () => {
    const base = tempDir("oi py deps ");
    const sacred = await makeGitRepo(path.join(base, "tabs"), pythonRepo("tabulate==0.0.0.404"));
    const root = path.join(base, "improve");
    const init = await cli(["init", "--source", sacred, "--root", root]);
    expect(init.code, init.err).toBe(0);
    expect(init.err).toMatch(
      /warning: pip install .* failed \(exit \d+\): the python dependencies were not installed/,
    );
    expect(existsSync(path.join(root, "python_packages"))).toBe(false);
    expect(readdirSync(path.join(root, ".odibi-improve")).filter((n) => n.includes("-deps-"))).toEqual([]);
    const gates = await cli(["--root", root, "gates"]);
    expect(gates.out).toMatch(/↳ needs module tabulate where the gates run: not a code problem/);
  });
});
