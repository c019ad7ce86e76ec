import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { git, statusLines } from "../src/environment/git.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { CYCLE_STEPS } from "../src/events/schema.js";
import { runProcess } from "../src/exec/run-process.js";
import { PACKAGE_ROOT } from "../src/pyenv/python-env.js";
import { cli, crashThenResume, jsonl } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

describe("a real campaign on a fixture repo (ruff-fixable lint + an unfixable failing test), no LLM", () => {
  it("promotes lint fixes one cycle at a time, avoids the unfixable failure, converges; Sacred byte-identical", async () => {
    const base = tempDir();
    const sacred = path.join(base, "inventory");
    cpSync(path.join(PACKAGE_ROOT, "samples", "demo-target"), sacred, { recursive: true });
    await makeGitRepo(sacred, {});
    const fp = takeFingerprint(sacred).digest;
    const root = path.join(base, "improve");
    expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);

    const run = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "10", "--convergence", "2"]);
    expect(run.err).not.toMatch(/error:/);
    expect(run.code).toBe(0);
    expect(run.out).toContain("CONVERGED");

    const master = path.join(root, "master");
    // One promotion per cycle, each its own commit with its own snapshot; Master clean and lint-clean.
    const commits = (await git(master, ["log", "--format=%s", "sacred..HEAD"])).trim().split("\n").reverse();
    expect(commits).toEqual([
      expect.stringMatching(/cycle cycle_001: lint failure F401:inventory\/report\.py/),
      expect.stringMatching(/cycle cycle_002: lint failure F401:inventory\/stock\.py/),
      expect.stringMatching(/cycle cycle_003: lint failure F541:inventory\/stock\.py/),
    ]);
    expect(await statusLines(master)).toEqual([]);
    const ruff = await runProcess(path.join(inject("venv"), "bin", "ruff"), ["check", "."], { cwd: master });
    expect(ruff.exitCode).toBe(0);
    expect(readFileSync(path.join(master, "inventory/report.py"), "utf8")).toContain(
      "return target - item.quantity",
    );
    const snaps = readdirSync(path.join(root, "snapshots")).filter((f) => f.endsWith(".tar.gz"));
    expect(snaps.sort()).toEqual([
      "before_cycle_001.tar.gz",
      "before_cycle_002.tar.gz",
      "before_cycle_003.tar.gz",
    ]);

    // The unfixable failure is recorded and avoided.
    const lessons = jsonl(path.join(root, "memory", "lessons.jsonl"));
    expect(lessons.filter((l) => l.outcome === "promoted")).toHaveLength(3);
    const avoided = jsonl(path.join(root, "memory", "avoided_issues.jsonl"));
    expect(avoided).toHaveLength(1);
    expect(avoided[0]?.target).toBe("tests/test_report.py::test_reorder_never_negative");
    // In the cycle whose fixer failed on it: the next cycle does not spend itself re-deciding that.
    const onTest = lessons.filter((l) => l.task.target === avoided[0]?.target);
    expect(new Set(onTest.map((l) => l.cycleId)).size).toBe(1);

    // Status and reports are right.
    const status = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
    expect(status).toMatchObject({
      status: "completed",
      stop_reason: "CONVERGED",
      improvements_promoted: 3,
      master_changes: 3,
    });
    expect(status.issues_avoided).toHaveLength(1);
    const st = await cli(["--root", root, "status"]);
    expect(st.out).toMatch(/completed \(CONVERGED\)/);
    const report = await cli(["--root", root, "report"]);
    expect(report.code).toBe(0);
    expect(report.out).toMatch(/\| Regressions \| 0 \| 0 \|/);
    expect(report.out).toMatch(/\| Lint errors \| 0 \| 4 → 0 \|/);
    const cycle1 = readFileSync(path.join(root, "reports", "cycle_001_report.md"), "utf8");
    expect(cycle1).toContain("**promoted**");
    expect(cycle1).toContain("-import json");

    // Export: a patch series the human can apply to Sacred by hand.
    const out = path.join(base, "export");
    const exported = await cli(["--root", root, "export", "--out", out]);
    expect(exported.code).toBe(0);
    expect(exported.out).toMatch(/^3 patch\(es\), series\.mbox and SUMMARY\.md written/m);
    expect(readdirSync(out).filter((f) => f.endsWith(".patch"))).toHaveLength(3);
    const applyTo = path.join(base, "apply-check");
    await git(base, ["clone", "-q", sacred, applyTo]);
    const patches = readdirSync(out)
      .filter((f) => f.endsWith(".patch"))
      .sort()
      .map((f) => path.join(out, f));
    await git(applyTo, ["am", "-q", ...patches]);
    expect(await git(applyTo, ["rev-parse", "HEAD^{tree}"])).toBe(
      await git(master, ["rev-parse", "HEAD^{tree}"]),
    );
    // The one-file series applies the same way (what SUMMARY.md tells the human to run).
    const applyMbox = path.join(base, "apply-mbox");
    await git(base, ["clone", "-q", sacred, applyMbox]);
    await git(applyMbox, ["am", "-q", path.join(out, "series.mbox")]);
    expect(await git(applyMbox, ["rev-parse", "HEAD^{tree}"])).toBe(
      await git(master, ["rev-parse", "HEAD^{tree}"]),
    );
    expect(readFileSync(path.join(out, "SUMMARY.md"), "utf8")).toContain("series.mbox");
    // Re-exporting into the same folder replaces the series: a stale patch from an earlier export does not survive.
    writeFileSync(path.join(out, "0009-stale.patch"), "stale\n");
    expect((await cli(["--root", root, "export", "--out", out])).code).toBe(0);
    expect(readdirSync(out).filter((f) => f.endsWith(".patch"))).toHaveLength(3);

    expect(takeFingerprint(sacred).digest).toBe(fp);
  });
});

describe("a failure for want of a dependency is reported, not worked on", () => {
  it("a test needing pyspark (not installed) is not work: lint is fixed, then NO_WORK, the report says what to install", async () => {
    const base = tempDir();
    const sacred = await makeGitRepo(path.join(base, "repo"), {
      "pkg/__init__.py": "",
      "pkg/core.py": "import os\n\n\ndef add(a, b):\n    return a + b\n",
      "tests/test_core.py": "from pkg.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
      "tests/test_spark.py":
        "import pyspark\n\n\ndef test_session():\n    assert pyspark.SparkContext is not None\n",
      "pyproject.toml": '[project]\nname = "pkg"\nversion = "0.1.0"\n',
    });
    const root = path.join(base, "improve");
    expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
    writeFileSync(
      path.join(root, "config.yaml"),
      readFileSync(path.join(root, "config.yaml"), "utf8").replace("gates:\n", "gates:\n  flake_reruns: 0\n"),
    );
    const run = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "5"]);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(
      /baseline \(Master\): 2 failing check\(s\), 1 of them for want of a dependency \(module pyspark\)/,
    );
    expect(run.out).toContain("campaign ended: NO_WORK");
    const master = path.join(root, "master");
    expect((await git(master, ["log", "--format=%s", "sacred..HEAD"])).trim()).toMatch(/F401:pkg\/core\.py/);
    // Nothing was tried on it, and memory holds no lesson about it.
    const lessons = jsonl(path.join(root, "memory", "lessons.jsonl"));
    expect(lessons.map((l) => l.task.target)).toEqual([expect.stringMatching(/^F401:pkg\/core\.py/)]);
    const report = (await cli(["--root", root, "report"])).out;
    expect(report).toMatch(/## Failing for want of a dependency \(not worked on\)/);
    expect(report).toContain("| tests | tests/test_spark.py | module pyspark |"); // printed for a terminal: no escapes
    // `gates` says it too, under the failure.
    const gates = await cli(["--root", root, "gates", "--master"]);
    expect(gates.out).toMatch(
      /FAIL {2}tests tests\/test_spark\.py[^\n]*\n {8}↳ needs module pyspark where the gates run: not a code problem/,
    );
    const cycle2 = readFileSync(path.join(root, "reports", "cycle_002_report.md"), "utf8");
    expect(cycle2).toMatch(
      /need dependencies the environment lacks \\\(module pyspark\\\), not code changes/,
    );
  });
});

describe("crash safety: kill -9 at every journaled step, then run --resume", () => {
  it.each(CYCLE_STEPS)(
    "killed after %s: Master before or after the promotion, never between",
    async (step) => {
      const { root } = await crashThenResume(step, async ({ root }) => {
        const st = await cli(["--root", root, "status", "--json"]);
        expect(JSON.parse(st.out).campaign.effective_status).toBe("crashed");
      });
      // No orphan sandbox; the campaign ended.
      expect(readdirSync(path.join(root, "sandboxes")).filter((n) => !n.startsWith("."))).toEqual([]);
      const status = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
      expect(status.status).not.toBe("running");
    },
  );
});
