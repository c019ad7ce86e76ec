import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { environmentFailures, listWork } from "../src/campaign/find-work.js";
import type { Check, GateResult } from "../src/core/types.js";
import {
  localPythonModules,
  missingDependency,
  missingNodeDependency,
} from "../src/gates/missing-dependency.js";
import { oracleGlobOf, oracleGlobs } from "../src/policy/index.js";
import { discoverInPython, discoverIssues } from "../src/profiles/python/discover.js";
import { tempDir, writeFiles } from "./helpers.js";

const ENGINE = `"""Engine module.

raise NotImplementedError is mentioned in this docstring and must not count. TODO: not a marker either.
"""
import abc


class Base(abc.ABC):
    @abc.abstractmethod
    def read(self, path):
        raise NotImplementedError

    def hook(self):
        raise NotImplementedError("subclasses must implement hook")


class Engine(Base):
    def read(self, path):
        # TODO: support globs in path
        return open(path).read()

    def window(self, df, spec):
        if spec.frame == "range":
            raise NotImplementedError(f"range frames are not supported yet: {spec}")
        return df

    def merge(self, a, b):
        print(f"{a=} {b=}")
        print("DEBUG merge keys", a.keys())
        print("# TODO inside a string is not a comment")
        breakpoint()
        url = "http://example.com/#FIXME"  # FIXME: hard-coded url
        print("merged")  # a normal message, not debugging
        return a
`;

function fixtureRepo(): string {
  const dir = tempDir();
  writeFiles(dir, {
    "pkg/engine.py": ENGINE,
    "pkg/ui/app.py": "def show(x):\n    # debug\n    print(x)\n    return x\n",
    "tests/test_engine.py": "def test_x():\n    print(f'{1=}')  # debug output is fine in tests\n",
    ".venv/lib/site.py": "raise NotImplementedError\n",
    "build/lib/pkg/engine.py": "breakpoint()\n",
    "node_modules/x/y.py": "breakpoint()\n",
    "README.md": "TODO: not python\n",
  });
  return dir;
}

describe("discover", () => {
  it("finds NotImplementedError, debug leftovers and markers with context, nothing in docstrings or strings", () => {
    const found = discoverInPython("pkg\\engine.py", ENGINE);
    const summary = found.map((d) => [d.kind, d.line, d.function ?? null]);
    expect(summary).toEqual([
      ["not_implemented", 11, "read"],
      ["not_implemented", 14, "hook"],
      ["todo", 19, "read"],
      ["not_implemented", 24, "window"],
      ["debug_print", 28, "merge"],
      ["debug_print", 29, "merge"],
      ["debug_print", 31, "merge"],
      ["todo", 32, "merge"],
    ]);
    const ni = found.find((d) => d.line === 24)!;
    expect(ni.file).toBe("pkg/engine.py");
    expect(ni.title).toBe("NotImplementedError at pkg/engine.py:24 in window()");
    expect(ni.context).toContain('23:         if spec.frame == "range":');
    expect(ni.context).toContain("25:         return df");
    expect(found.find((d) => d.line === 32)!.title).toBe("FIXME marker at pkg/engine.py:32 in merge()");
  });

  it("keeps a signature when code above moves, and changes it when the line changes", () => {
    const a = discoverInPython("pkg/engine.py", ENGINE);
    const b = discoverInPython("pkg/engine.py", `# header added\n\n${ENGINE}`);
    expect(b.map((d) => d.line)).toEqual(a.map((d) => d.line + 2));
    expect(b.map((d) => d.signature)).toEqual(a.map((d) => d.signature));
    const c = discoverInPython("pkg/engine.py", ENGINE.replace("support globs", "support patterns"));
    const todo = (l: typeof a) => l.find((d) => d.kind === "todo")!.signature;
    expect(todo(c)).not.toBe(todo(a));
    expect(new Set(a.map((d) => d.signature)).size).toBe(a.length);
  });

  it("walks a repository, skipping virtualenvs, builds, vendored folders and test prints; sorts cheapest first", async () => {
    const found = await discoverIssues(fixtureRepo(), { python: inject("python") });
    expect(found.map((d) => `${d.kind} ${d.file}:${d.line}`)).toEqual([
      "debug_print pkg/engine.py:28",
      "debug_print pkg/engine.py:29",
      "debug_print pkg/engine.py:31",
      "debug_print pkg/ui/app.py:3",
      "not_implemented pkg/engine.py:11",
      "not_implemented pkg/engine.py:14",
      "not_implemented pkg/engine.py:24",
      "todo pkg/engine.py:19",
      "todo pkg/engine.py:32",
    ]);
  });

  it("finds the roadmap's kind of issue in the real odibi source", async () => {
    const found = await discoverIssues(inject("odibiSource"), { python: inject("python") });
    const spark = found.filter(
      (d) => d.kind === "not_implemented" && d.file.endsWith("engine/spark_engine.py"),
    );
    expect(spark.length).toBeGreaterThan(0);
    expect(spark.every((d) => /NotImplementedError/.test(d.text))).toBe(true);
    expect(found.every((d) => !d.file.includes("/.") && !path.isAbsolute(d.file))).toBe(true);
  });
});

function gateResult(checks: Partial<Check>[]): GateResult {
  const byGate = new Map<string, Check[]>();
  for (const c of checks) {
    const full: Check = { gate: "tests", id: "t", status: "fail", ...c };
    byGate.set(full.gate, [...(byGate.get(full.gate) ?? []), full]);
  }
  return {
    treeHash: "abc",
    startedAt: "2025-01-01T00:00:00Z",
    durationMs: 1,
    runs: [...byGate].map(([gate, cs]) => ({ gate, checks: cs, durationMs: 1 })),
  };
}

const avoidNothing = { shouldAvoid: () => false };
const avoiding = (sigs: string[]) => ({ shouldAvoid: (s: string) => sigs.includes(s) });

describe("listWork", () => {
  const result = gateResult([
    {
      gate: "lint",
      id: "F401:pkg/a.py:3",
      message: "`os` imported but unused",
      errorType: "F401",
      file: "pkg/a.py",
      line: 3,
    },
    { gate: "lint", id: "E999:pkg/b.py:1", status: "pass" },
    { gate: "tests", id: "tests/test_a.py::test_flaky", status: "flaky", message: "sometimes" },
    {
      gate: "tests",
      id: "tests/test_a.py::test_join",
      message: "KeyError: 'id'\nTraceback…",
      errorType: "KeyError",
    },
  ]);
  const discovered = discoverInPython("pkg/engine.py", ENGINE);

  it("takes failures first, then discovered issues", () => {
    const all = listWork(result, discovered, avoidNothing);
    expect(all.map((t) => t.kind)).toEqual(["failure", "failure", ...discovered.map(() => "discovered")]);
    const first = all[0];
    expect(first).toMatchObject({
      kind: "failure",
      target: "F401:pkg/a.py:3",
      gate: "lint",
      file: "pkg/a.py",
      line: 3,
      title: "lint failure F401:pkg/a.py:3: `os` imported but unused",
    });
    expect(all[1]!.title).toBe("tests failure tests/test_a.py::test_join: KeyError: 'id'");
  });

  it("skips what memory says to avoid, falling through to the next tier", () => {
    const failures = listWork(result, [], avoidNothing).map((t) => t.signature);
    const next = listWork(result, discovered, avoiding(failures))[0]!;
    expect(next.kind).toBe("discovered");
    expect(next.target).toBe(`pkg/engine.py:${discovered[0]!.line}`);
    const everything = listWork(result, discovered, avoidNothing).map((t) => t.signature);
    expect(listWork(result, discovered, avoiding(everything))).toEqual([]);
    expect(listWork(null, [], avoidNothing)).toEqual([]);
  });

  it("puts focus matches first within a tier, never above a failure", () => {
    const t = listWork(result, discovered, avoidNothing, { focus: ["WINDOW"] });
    expect(t[0]!.kind).toBe("failure");
    expect(t[2]).toMatchObject({ kind: "discovered", title: expect.stringContaining("window()") });
  });
});

describe("failures the environment causes (a missing dependency) are not work", () => {
  const local = new Set(["odibi", "tests"]);
  const fail = (message: string, detail?: string): Check => ({
    gate: "tests",
    id: `tests/test_x.py::t_${message.length}`,
    status: "fail",
    message,
    ...(detail ? { detail } : {}),
  });

  it("names what to install; leaves code bugs (a typo in an own import, an assertion) alone", () => {
    expect(
      missingDependency(
        fail("ImportError: Spark support requires 'pip install odibi[spark]'. See docs/setup_databricks.md"),
        local,
      ),
    ).toBe("pip install odibi[spark]");
    expect(
      missingDependency(
        fail("collection error", "E   ModuleNotFoundError: No module named 'pyspark.sql'"),
        local,
      ),
    ).toBe("module pyspark.sql");
    // The repository's own module: an import typo is a code bug the campaign should fix.
    expect(missingDependency(fail("ModuleNotFoundError: No module named 'odibi.transfomers'"), local)).toBe(
      undefined,
    );
    expect(missingDependency(fail("AssertionError: assert 'pip install x' in out"), local)).toBe(undefined);
    expect(
      missingDependency({ status: "pass", message: "ModuleNotFoundError: No module named 'pyspark'" }, local),
    ).toBe(undefined);
  });

  it("node: a declared package that is not installed, or a command npx cannot find; not a path or an undeclared name", () => {
    const declared = new Set(["ms", "@scope/pkg"]);
    const judge = (message: string, detail?: string) =>
      missingNodeDependency(fail(message, detail), declared);
    expect(judge("Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'ms' imported from /r/src/dur.js")).toBe(
      "npm package ms (declared in package.json, not installed)",
    );
    expect(judge("exit 1", "Error: Cannot find module '@scope/pkg/sub/path.js'\nRequire stack:")).toBe(
      "npm package @scope/pkg (declared in package.json, not installed)",
    );
    // A file of the repository, a name nobody declared (a typo), a node builtin: code problems.
    expect(
      judge("Error [ERR_MODULE_NOT_FOUND]: Cannot find module '/r/src/nope.js' imported from /r/t.js"),
    ).toBe(undefined);
    expect(judge("Error: Cannot find module './nope'")).toBe(undefined);
    expect(judge("Error: Cannot find module 'C:\\r\\nope.js'")).toBe(undefined);
    expect(judge("Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'mss' imported from /r/src/dur.js")).toBe(
      undefined,
    );
    expect(judge("Error: Cannot find module 'node:nope'")).toBe(undefined);
    expect(
      judge(
        "biome output could not be read",
        'npm error npx canceled due to missing packages and no YES option: ["biome@0.3.3"]',
      ),
    ).toBe("the biome command (npx --no-install found no installed package providing it)");
    expect(
      missingNodeDependency(
        { status: "pass", message: "Cannot find package 'ms' imported from x" },
        declared,
      ),
    ).toBe(undefined);
  });

  it("listWork skips them, environmentFailures lists them; the repo's top-level modules are what it provides", () => {
    const repo = tempDir();
    writeFiles(repo, {
      "odibi/__init__.py": "",
      "src/helpers/__init__.py": "",
      "setup_tools.py": "",
      ".venv/x.py": "",
    });
    const mods = localPythonModules(repo);
    expect([...mods].sort()).toEqual(["helpers", "odibi", "setup_tools", "src"]);
    const spark = fail("ImportError: Spark support requires 'pip install odibi[spark]'");
    const typo = fail("ModuleNotFoundError: No module named 'odibi.transfomers'");
    const result = gateResult([spark, typo]);
    const missing = (c: Check) => missingDependency(c, mods);
    const work = listWork(result, [], { shouldAvoid: () => false }, { missingDependency: missing });
    expect(work.map((t) => t.target)).toEqual([typo.id]);
    expect(environmentFailures(result, missing)).toEqual([
      { gate: "tests", id: spark.id, needs: "pip install odibi[spark]" },
    ]);
    // Without the option (a non-Python profile) every failure is work.
    expect(listWork(result, [], { shouldAvoid: () => false })).toHaveLength(2);
  });
});

describe("listWork and the frozen oracle", () => {
  it("a lint finding or a discovered issue in an oracle path is not work; a failing test is", () => {
    const oracle = oracleGlobs("python");
    const inOracle = (f: string) => oracleGlobOf(f, oracle) !== undefined;
    const result = gateResult([
      { gate: "lint", id: "F401:tests/test_a.py:1", errorType: "F401", file: "tests/test_a.py", line: 1 },
      { gate: "lint", id: "F401:conftest.py:2", errorType: "F401", file: "conftest.py", line: 2 },
      { gate: "lint", id: "F401:pkg/a.py:3", errorType: "F401", file: "pkg/a.py", line: 3 },
      { gate: "tests", id: "tests/test_a.py::test_join", file: "tests/test_a.py", errorType: "KeyError" },
    ]);
    const discovered = [
      ...discoverInPython("tests/helpers.py", ENGINE),
      ...discoverInPython("pkg/engine.py", ENGINE),
    ];
    const all = listWork(result, discovered, avoidNothing, { inOracle });
    expect(all.filter((t) => t.kind === "failure").map((t) => t.target)).toEqual([
      "F401:pkg/a.py:3",
      "tests/test_a.py::test_join",
    ]);
    const files = new Set(all.filter((t) => t.kind === "discovered").map((t) => t.file));
    expect([...files]).toEqual(["pkg/engine.py"]);
    // Without the oracle every one of them is work.
    const unfiltered = listWork(result, discovered, avoidNothing);
    expect(unfiltered.map((t) => t.target)).toContain("F401:tests/test_a.py:1");
    expect(unfiltered.some((t) => t.file === "tests/helpers.py")).toBe(true);
  });
});
