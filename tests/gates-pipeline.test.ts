import { cpSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { type ConfigInput, ConfigSchema } from "../src/config/schema.js";
import type { Check, GateResult } from "../src/core/types.js";
import { git } from "../src/environment/git.js";
import { SacredGuard } from "../src/environment/sacred.js";
import type { CommandRunner } from "../src/exec/run-process.js";
import { runProcess } from "../src/exec/run-process.js";
import { GateCache } from "../src/gates/cache.js";
import { makeGateContext } from "../src/gates/context.js";
import type { GateContext } from "../src/gates/gate.js";
import { checkGates, GatesStopped } from "../src/gates/pipeline.js";
import { decideVerdict } from "../src/gates/verdict.js";
import { profileOf } from "../src/profiles/index.js";
import {
  makePythonFixture,
  PYTHON_EXPECTED_LINT,
  PYTHON_EXPECTED_TESTS,
  RANDOM_FLAKE_TEST,
} from "./fixtures-python.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/** The verdict reads how each gate's failures match from the profile's gates (odibi: all four). */
const GATES = profileOf("odibi").gates;

const statuses = (r: GateResult, gate: string) =>
  Object.fromEntries(
    r.runs.filter((x) => x.gate === gate).flatMap((x) => x.checks.map((c: Check) => [c.id, c.status])),
  );

function context(workdir: string, overrides: Partial<ConfigInput> = {}, run?: CommandRunner): GateContext {
  const config = ConfigSchema.parse({
    source: { sacred_repo: "/nonexistent-sacred" },
    profile: "python",
    ...overrides,
  });
  return makeGateContext({
    workdir,
    config,
    profile: profileOf(config.profile),
    goldenDir: path.join(tempDir(), "golden"),
    outputDir: path.join(tempDir("oi gates out "), "out"),
    venv: inject("venv"),
    run,
  });
}

/** A CommandRunner that counts the processes gates start (to prove a cached check starts none). */
function countingRunner(): { run: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    run: (file, args, opts) => {
      calls.push([file, ...args].join(" "));
      return runProcess(file, args, opts);
    },
  };
}

/** A candidate: a copy of the repo (its own git history), with edits. */
function candidateOf(repo: string, edits: Record<string, string>): string {
  const dir = path.join(tempDir("oi gates cand "), "repo");
  cpSync(repo, dir, { recursive: true });
  for (const [f, content] of Object.entries(edits)) writeFileSync(path.join(dir, f), content);
  return dir;
}

describe("python fixture through the gates (ruff + pytest)", () => {
  let repo: string;
  let baseline: GateResult;
  beforeAll(async () => {
    repo = await makePythonFixture();
    baseline = await checkGates(context(repo));
  });

  it("classifies every check: lint findings, pass/fail/skip, setup and collection errors, the flake", () => {
    expect(baseline.runs.map((r) => r.gate)).toEqual(["lint", "tests"]);
    expect(Object.keys(statuses(baseline, "lint")).sort()).toEqual([...PYTHON_EXPECTED_LINT].sort());
    expect(statuses(baseline, "tests")).toEqual(PYTHON_EXPECTED_TESTS);
    const flake = baseline.runs[1]!.checks.find((c) => c.id === "tests/test_flaky.py::test_alternating")!;
    expect(flake.message).toMatch(/^failed, then passed on re-run 1 of 2: /);
    expect(baseline.treeHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a crash of the runner is a failing check, never a pass", async () => {
    const r = await checkGates(
      context(repo, {
        commands: { test: "python -m pytest --no-such-option", lint: "no-such-linter-xyz check ." },
      }),
    );
    const lint = r.runs.find((x) => x.gate === "lint")!;
    expect(lint.checks).toEqual([expect.objectContaining({ id: "command:crash", status: "fail" })]);
    expect(lint.error).toMatch(/could not start no-such-linter-xyz/);
    const tests = r.runs.find((x) => x.gate === "tests")!;
    expect(tests.checks).toEqual([
      expect.objectContaining({ id: "pytest:crash", status: "fail", errorType: "RunnerCrash" }),
    ]);
    expect(tests.error).toMatch(/pytest did not complete \(exit 4\)/);
  });

  it("caches by working-tree hash: an unchanged tree starts no process; a change re-runs", async () => {
    const cacheDir = path.join(tempDir(), "gate-cache");
    const cache = new GateCache(cacheDir, new SacredGuard("/nonexistent-sacred"));
    await git(repo, ["clean", "-q", "-ffdx"]); // what the tests above wrote
    const first = countingRunner();
    const r1 = await checkGates(context(repo, {}, first.run), { cache });
    expect(first.calls.length).toBeGreaterThan(0);
    // What the run wrote (bytecode, caches) is part of the tree as the next run would see it: a different tree.
    const dirty = await checkGates(context(repo, {}, countingRunner().run), { cache, gates: [] });
    expect(dirty.treeHash).not.toBe(r1.treeHash);
    await git(repo, ["clean", "-q", "-ffdx"]);
    const second = countingRunner();
    const r2 = await checkGates(context(repo, {}, second.run), { cache });
    expect(second.calls).toEqual([]);
    expect(r2.runs.every((r) => r.cached)).toBe(true);
    expect(r2.runs.map((r) => r.checks)).toEqual(r1.runs.map((r) => r.checks));
    // An edit changes the tree hash: everything runs again.
    const third = countingRunner();
    writeFileSync(
      path.join(repo, "pkg", "text.py"),
      'def shout(s):\n    return s.upper() + "!"\n\n\nX = 1\n',
    );
    try {
      const r3 = await checkGates(context(repo, {}, third.run), { cache });
      expect(r3.treeHash).not.toBe(r1.treeHash);
      expect(r3.runs.some((r) => r.cached)).toBe(false);
      expect(third.calls.some((c) => c.includes("pytest"))).toBe(true);
    } finally {
      writeFileSync(path.join(repo, "pkg", "text.py"), 'def shout(s):\n    return s.upper() + "!"\n');
    }
    await git(repo, ["clean", "-q", "-ffdx"]);
    // Installed dependencies outside the tree (node packages) are part of the key: new ones re-run, same ones hit.
    const withDeps = (key: string, run: CommandRunner) => ({ ...context(repo, {}, run), dependencies: key });
    const fourth = countingRunner();
    const r4 = await checkGates(withDeps("deps-a", fourth.run), { cache });
    expect(r4.treeHash).toBe(r1.treeHash);
    expect(r4.runs.some((r) => r.cached)).toBe(false);
    expect(fourth.calls.length).toBeGreaterThan(0);
    await git(repo, ["clean", "-q", "-ffdx"]);
    const fifth = countingRunner();
    expect((await checkGates(withDeps("deps-a", fifth.run), { cache })).runs.every((r) => r.cached)).toBe(
      true,
    );
    expect(fifth.calls).toEqual([]);
    const sixth = countingRunner();
    await checkGates(withDeps("deps-b", sixth.run), { cache });
    expect(sixth.calls.length).toBeGreaterThan(0);
  });

  it("fail-fast: a new lint error rejects before any test runs", async () => {
    const cand = candidateOf(repo, {
      "pkg/text.py": 'import sys\n\n\ndef shout(s):\n    return s.upper() + "!"\n',
    });
    const counter = countingRunner();
    const r = await checkGates(context(cand, {}, counter.run), {
      baseline,
      failFast: true,
      changedFiles: ["pkg/text.py"],
    });
    expect(r.runs.map((x) => x.gate)).toEqual(["lint"]);
    expect(counter.calls.some((c) => c.includes("pytest"))).toBe(false);
    const v = decideVerdict(baseline, r, { gates: GATES });
    expect(v.promotable).toBe(false);
    expect(v.newFailures.map((c) => c.id)).toEqual(["F401:pkg/text.py:1:8"]);
    expect(v.notRun).toEqual(["tests"]);
  });

  it("fail-fast: the tests touching the change run first and reject without the full suite", async () => {
    const cand = candidateOf(repo, { "pkg/text.py": "def shout(s):\n    return s.lower()\n" });
    const r = await checkGates(context(cand), { baseline, failFast: true, changedFiles: ["pkg/text.py"] });
    expect(r.runs.map((x) => [x.gate, x.scope])).toEqual([
      ["lint", undefined],
      ["tests", "targeted"],
    ]);
    // Only the test module importing pkg.text ran.
    expect(statuses(r, "tests")).toEqual({ "tests/test_text.py::test_shout": "fail" });
    const v = decideVerdict(baseline, r, { gates: GATES });
    expect(v.promotable).toBe(false);
    expect(v.newFailures[0]).toMatchObject({
      id: "tests/test_text.py::test_shout",
      errorType: "AssertionError",
    });
  });

  it("a candidate that fixes its target runs target first, then the full suite, and is promotable", async () => {
    const target = "tests/test_calc.py::TestDivide::test_divide_zero";
    const cand = candidateOf(repo, {
      "pkg/calc.py":
        "import os\n\n\ndef add(a, b):\n    return a + b\n\n\ndef divide(a, b):\n    return 0 if b == 0 else a / b\n\n\ndef unused_local():\n    value = 1\n    return undefined_name\n",
    });
    const task = { kind: "failure" as const, target, title: "divide by zero", signature: "x", gate: "tests" };
    const r = await checkGates(context(cand), {
      baseline,
      failFast: true,
      target: task,
      changedFiles: ["pkg/calc.py"],
    });
    expect(r.runs.map((x) => [x.gate, x.scope])).toEqual([
      ["lint", undefined],
      ["tests", "targeted"],
      ["tests", "full"],
    ]);
    // Targeted: the target and the module importing pkg.calc (the flake is elsewhere).
    expect(
      Object.keys(statuses({ ...r, runs: [r.runs[1]!] }, "tests")).every((id) =>
        id.startsWith("tests/test_calc.py"),
      ),
    ).toBe(true);
    const v = decideVerdict(baseline, r, { gates: GATES, target: task });
    expect(v).toMatchObject({ promotable: true, targetFixed: true, newFailures: [] });
    expect(v.fixed.map((c) => c.id)).toEqual([target]);
    expect(v.flaky.map((c) => c.id)).toEqual(["tests/test_flaky.py::test_alternating"]);
  });
});

describe("a truly random ~30% flake neither promotes nor blocks", () => {
  it("over repeated baseline/candidate checks the flake is never a new failure nor a fixed target", async () => {
    const repo = await makeGitRepo(path.join(tempDir("oi gates rnd "), "repo"), {
      "pyproject.toml": '[project]\nname = "rnd"\nversion = "0"\n',
      "tests/test_ok.py": "def test_ok():\n    assert True\n",
      "tests/test_random.py": RANDOM_FLAKE_TEST,
    });
    const id = "tests/test_random.py::test_random_flake";
    const task = { kind: "failure" as const, target: id, title: "flake", signature: "x", gate: "tests" };
    // 6 re-runs: a real flake is misread as a failure only when it fails 7 times in a row (0.3^7 ≈ 0.02%).
    const opts = { flakeReruns: 6 };
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const base = await checkGates(context(repo), opts);
      const cand = await checkGates(context(repo), opts);
      for (const r of [base, cand]) seen.add(String(statuses(r, "tests")[id]));
      const v = decideVerdict(base, cand, { gates: GATES });
      expect(v.promotable).toBe(true);
      expect(v.newFailures).toEqual([]);
      // Targeting the flake: a pass is no fix.
      expect(decideVerdict(base, cand, { gates: GATES, target: task }).targetFixed).not.toBe(true);
    }
    // The flake is seen as a pass or as flaky, never as a plain failure.
    expect([...seen].every((s) => s === "pass" || s === "flaky")).toBe(true);
  });
});

describe("stopping", () => {
  it("an abort stops the gate run with GatesStopped (exit code 3) instead of waiting for a 10-minute test", async () => {
    const repo = await makeGitRepo(path.join(tempDir("oi gates stop "), "repo"), {
      "pyproject.toml": '[project]\nname = "slow"\nversion = "0"\n',
      "tests/test_slow.py": "import time\n\n\ndef test_slow():\n    time.sleep(600)\n",
    });
    const ac = new AbortController();
    const ctx = { ...context(repo), signal: ac.signal };
    setTimeout(() => ac.abort(), 1500);
    const err = await checkGates(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatesStopped);
    expect((err as GatesStopped).exitCode).toBe(3);
  }, 60_000);
});
