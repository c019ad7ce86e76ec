import { readdirSync, readFileSync, symlinkSync } from "node:fs";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { listWork } from "../src/campaign/find-work.js";
import { type DiscoveredIssue, discoverIssues, notWorkGroups } from "../src/profiles/python/discover.js";
import { renderCycleReport } from "../src/status/reports.js";
import { cli } from "./campaign-cli.js";
import { makeGitRepo, tempDir, writeFiles } from "./helpers.js";

/**
 * Discovered issues with evidence (issue 12, item 4): Python's `ast` (the venv's python) tells work from deliberate
 * code, on a small real tree with each kind and on the real odibi sdist; the reports list what is not work.
 */

const BASE = `import abc
from typing import Protocol


class Reader(abc.ABC):
    @abc.abstractmethod
    def read(self, path):
        raise NotImplementedError

    def close(self):
        """Readers that hold a handle close it."""
        raise NotImplementedError


class Sink(Protocol):
    def write(self, rows):
        raise NotImplementedError


class Connection:
    def preview(self, table):
        raise NotImplementedError(f"{type(self).__name__} cannot preview")
`;

const ENGINE = `from pkg.base import Connection


class SqlConnection(Connection):
    def preview(self, table):
        return table[:5]


def write(rows, mode):
    if mode == "merge":
        raise NotImplementedError(f"mode '{mode}' is not supported by this engine")
    return rows


def discount(amount):
    raise NotImplementedError


def rounding(x):
    # TODO: round half to even
    return round(x)
`;

const FILES: Record<string, string> = {
  "pkg/__init__.py": "",
  "pkg/base.py": BASE,
  "pkg/engine.py": ENGINE,
  "tests/__init__.py": "",
  "tests/conftest.py": "def make_rows():\n    raise NotImplementedError\n",
  "tests/test_engine.py": `import pytest

from pkg.engine import SqlConnection, discount, write


@pytest.mark.xfail(raises=NotImplementedError, strict=True)
def test_discount():
    assert discount(100) == 90


def test_write():
    assert write([1], "append") == [1]


def test_preview():
    assert SqlConnection().preview([1, 2]) == [1, 2]
`,
  "pytest.ini": "[pytest]\npythonpath = .\n",
};

const python = () => inject("python");
/** Report text without markdown's backslash escapes. */
const plain = (md: string) => md.replace(/\\(.)/g, "$1");
const verdict = (d: DiscoveredIssue) => `${d.file}:${d.line} ${d.notWork?.reason ?? "work"}`;

describe("discovery tells work from deliberate code (Python's ast through the venv's python)", () => {
  it("classifies each kind on a small real tree; only the raise a test exercises stays work", async () => {
    const dir = tempDir();
    writeFiles(dir, FILES);
    const found = await discoverIssues(dir, { python: python() });
    expect(found.map(verdict).sort()).toEqual([
      "pkg/base.py:12 abstract", // an ABC's method that only raises
      "pkg/base.py:17 abstract", // a Protocol's method
      "pkg/base.py:22 base_default", // SqlConnection overrides preview
      "pkg/base.py:8 abstract", // @abc.abstractmethod
      "pkg/engine.py:11 unsupported", // the message names an unsupported mode
      "pkg/engine.py:16 work", // discount: tests/test_engine.py calls it
      "pkg/engine.py:20 no_evidence", // the TODO in rounding: no test refers to it
      "tests/conftest.py:2 test_helper",
    ]);
    const byLine = (file: string, line: number) => found.find((d) => d.file === file && d.line === line)!;
    expect(byLine("pkg/engine.py", 16).evidence).toEqual(["tests/test_engine.py"]);
    expect(byLine("pkg/base.py", 22).notWork!.why).toBe(
      "Connection.preview() is overridden in SqlConnection",
    );
    expect(byLine("pkg/engine.py", 11).notWork!.why).toBe(
      `message: "mode '{}' is not supported by this engine"`,
    );
    expect(byLine("pkg/engine.py", 20).notWork!.why).toBe(
      "no test imports pkg.engine and refers to rounding()",
    );

    const tasks = listWork(null, found, { shouldAvoid: () => false });
    expect(tasks.map((t) => t.target)).toEqual(["pkg/engine.py:16"]);
    expect(tasks[0]!.detail).toContain("Exercised by: tests/test_engine.py");

    const groups = notWorkGroups(found);
    expect(groups.map((g) => [g.reason, g.count])).toEqual([
      ["test helper (the tests' own code)", 1],
      ["abstract method (an ABC or Protocol body)", 3],
      ["base-class default that subclasses override", 1],
      ["deliberate guard: its message names an unsupported mode, engine, platform, format or feature", 1],
      ["no check can prove a change (no test exercises it)", 1],
    ]);
  });

  it("a test that stops referring to the function takes its evidence away", async () => {
    const dir = tempDir();
    writeFiles(dir, {
      ...FILES,
      "tests/test_engine.py":
        "from pkg.engine import write\n\n\ndef test_write():\n    assert write([1], 'append') == [1]\n",
    });
    const found = await discoverIssues(dir, { python: python() });
    expect(found.find((d) => d.line === 16 && d.file === "pkg/engine.py")!.notWork).toEqual({
      reason: "no_evidence",
      why: "no test imports pkg.engine and refers to discount()",
    });
    expect(listWork(null, found, { shouldAvoid: () => false })).toEqual([]);
  });

  it("reads files as data: a linked file is not followed, and the tree's code does not run", async () => {
    const dir = tempDir();
    const outside = tempDir();
    writeFiles(outside, { "secret.py": "raise NotImplementedError\n" });
    writeFiles(dir, { ...FILES, "pkg/__init__.py": "raise SystemExit('imported')\n" });
    symlinkSync(path.join(outside, "secret.py"), path.join(dir, "pkg", "linked.py"));
    const found = await discoverIssues(dir, { python: python() });
    expect(found.some((d) => d.file === "pkg/linked.py")).toBe(false);
    expect(found.find((d) => d.line === 16 && d.file === "pkg/engine.py")!.notWork).toBeUndefined();
  });

  it("none of the real odibi 3.15.1's NotImplementedError guards is a task", async () => {
    const found = await discoverIssues(inject("odibiSource"), { python: python() });
    const guards = found.filter((d) => d.kind === "not_implemented");
    expect(guards.length).toBeGreaterThanOrEqual(31);
    expect(guards.filter((d) => !d.notWork).map((d) => `${d.file}:${d.line}`)).toEqual([]);
    const reasons = new Set(guards.map((d) => d.notWork!.reason));
    expect(reasons).toEqual(new Set(["abstract", "base_default", "unsupported"]));
    expect(listWork(null, found, { shouldAvoid: () => false })).toEqual([]);
  });

  it("the cycle report lists what is not work, grouped and counted", async () => {
    const dir = tempDir();
    writeFiles(dir, FILES);
    const notWork = notWorkGroups(await discoverIssues(dir, { python: python() }));
    const md = plain(
      renderCycleReport({
        campaignId: "c1",
        cycle: 1,
        startedAt: "2026-01-01T00:00:00Z",
        task: null,
        gatesBefore: null,
        gatesAfter: null,
        decision: { action: "no_change", reason: "x" },
        notWork,
      }),
    );
    expect(md).toContain("## Discovered, not work\n\n7 discovered issues not worked on:");
    expect(md).toContain("### abstract method (an ABC or Protocol body): 3");
    expect(md).toContain(
      "- NotImplementedError at pkg/base.py:22 in preview() — Connection.preview() is overridden in SqlConnection",
    );
  });
});

describe("a campaign through the CLI", () => {
  it("works only on the item with evidence; the cycle and campaign reports list the rest as not work", async () => {
    const base = tempDir();
    const sacred = await makeGitRepo(path.join(base, "repo"), FILES);
    const root = path.join(base, "root");
    const init = await cli(["init", "--source", sacred, "--root", root, "--profile", "python"]);
    expect(init.code, init.err).toBe(0);
    const run = await cli(["--root", root, "run", "--max-cycles", "1"]);
    expect(run.err, run.out).not.toMatch(/error:/i);
    const reports = path.join(root, "reports");
    const cycle = plain(readFileSync(path.join(reports, "cycle_001_report.md"), "utf8"));
    expect(cycle).toContain("1 open item(s) need an LLM");
    expect(cycle).toContain("7 discovered issues not worked on:");
    expect(cycle).toContain("### no check can prove a change (no test exercises it): 1");
    expect(cycle).toContain("TODO marker at pkg/engine.py:20 in rounding()");
    const campaign = readdirSync(reports).find((f) => f.startsWith("campaign_") && f.endsWith(".md"))!;
    const campaignReport = plain(readFileSync(path.join(reports, campaign), "utf8"));
    expect(campaignReport).toContain("## Discovered, not work");
    expect(campaignReport).toContain("### test helper (the tests' own code): 1");
  });
});
