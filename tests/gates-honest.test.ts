import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { ConfigSchema } from "../src/config/schema.js";
import type { Check, GateResult, GateRun } from "../src/core/types.js";
import { folderInside, removeInside, restoreInside } from "../src/environment/fs-safe.js";
import { createJailedRunner } from "../src/exec/jail.js";
import { makeGateContext } from "../src/gates/context.js";
import type { GateContext } from "../src/gates/gate.js";
import { nodeTestDisagreements } from "../src/gates/parsers/node-test-output.js";
import { parsePytestCollected, parsePytestSummary } from "../src/gates/parsers/pytest-summary.js";
import { checkGates, runWithFlakeReruns } from "../src/gates/pipeline.js";
import { selectTestsForChanges } from "../src/gates/select-tests.js";
import { testsGate } from "../src/gates/tests-gate.js";
import { decideVerdict } from "../src/gates/verdict.js";
import { profileOf } from "../src/profiles/index.js";
import { WorkspaceFileError } from "../src/workspace/errors.js";
import { LocalWorkspace } from "../src/workspace/local-workspace.js";
import { tempDir, writeFiles } from "./helpers.js";

/** The verdict reads how each gate's failures match from the profile's gates (odibi: all four). */
const GATES = profileOf("odibi").gates;

/**
 * Honest results (issue 10, items 2 and 10): what a candidate's code can do to the channels a gate reads (the
 * report file, the exit code, the terminal output) must never turn into a pass or a hang. The gate cases run the
 * real pytest in the real bubblewrap jail, with the gate output folder writable from inside as in a campaign; the
 * host-side cases plant FIFOs and links where the host reads or writes.
 */

const OK_TEST = "def test_ok():\n    assert True\n";

/** A python tree with the given files and a jailed gate context on it (output folder outside the tree). */
function jailedContext(files: Record<string, string>, timeoutSeconds = 60): GateContext {
  const root = tempDir("oi honest ");
  const repo = path.join(root, "repo");
  const out = path.join(root, "out");
  mkdirSync(out, { recursive: true });
  writeFiles(repo, files);
  const venv = inject("venv");
  const config = ConfigSchema.parse({
    source: { sacred_repo: "/nonexistent-sacred" },
    profile: "python",
    gates: { timeout_seconds: timeoutSeconds },
  });
  return makeGateContext({
    workdir: repo,
    config,
    profile: profileOf(config.profile),
    goldenDir: path.join(root, "golden"),
    outputDir: out,
    venv,
    run: createJailedRunner({ mode: "bwrap", sandbox: repo, readOnly: [venv], readWrite: [out] }),
  });
}

/**
 * Code under test acting after pytest wrote its report: a plugin hook run at the end of pytest's session (code
 * under test can register one from inside the process; a conftest.py is the short way to write one here, in a
 * campaign conftest.py is Master's). `body` gets the report path `p`; it flushes pytest's
 * output first, as a careful forger would.
 */
function afterReport(body: string): Record<string, string> {
  return {
    "conftest.py": `import os, sys
def pytest_unconfigure(config):
    p = config.option.xmlpath
    if not p:
        return
    sys.stdout.flush()
${body
  .split("\n")
  .map((l) => `    ${l}`)
  .join("\n")}
`,
  };
}

const failing = (run: GateRun): Check[] => run.checks.filter((c) => c.status === "fail");
const inconsistent = (run: GateRun): Check | undefined =>
  run.checks.find((c) => c.errorType === "report-inconsistent");

describe("reports are read only as regular files", () => {
  it("a FIFO in place of the report is a failing check, not a hang", async () => {
    const ctx = jailedContext({ ...afterReport("os.remove(p)\nos.mkfifo(p)"), "tests/test_a.py": OK_TEST });
    const started = Date.now();
    const run = await testsGate.run(ctx);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(inconsistent(run)?.message).toMatch(/is a FIFO, not a regular file/);
    expect(run.checks.some((c) => c.status === "pass")).toBe(false);
  });

  it("a symlink in place of the report is refused (never followed)", async () => {
    const ctx = jailedContext({
      ...afterReport('os.remove(p)\nos.symlink("/etc/hostname", p)'),
      "tests/test_a.py": OK_TEST,
    });
    const run = await testsGate.run(ctx);
    expect(inconsistent(run)?.message).toMatch(/is a symbolic link/);
    expect(failing(run)).toHaveLength(1);
  });

  it("a report removed after a clean exit is not a pass", async () => {
    const ctx = jailedContext({ ...afterReport("os.remove(p)"), "tests/test_a.py": OK_TEST });
    const run = await testsGate.run(ctx);
    expect(inconsistent(run)?.message).toMatch(/ended with exit 0 but its report was not there/);
  });
});

/** A JUnit report (pytest's xunit1 shape) saying each named test of tests/test_a.py passed. */
const passingReport = (names: string[]) =>
  `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="${names.length}">${names
    .map(
      (n) => `<testcase classname="tests.test_a" name="${n}" file="tests/test_a.py" line="0" time="0.001"/>`,
    )
    .join("")}</testsuite></testsuites>`;

const TWO_TESTS = "def test_ok():\n    assert True\n\ndef test_bug():\n    assert 1 + 1 == 3\n";

describe("a result must agree across independent channels", () => {
  it("exit 0 forced after pytest wrote its report showing the failure: report-inconsistent", async () => {
    const ctx = jailedContext({ ...afterReport("os._exit(0)"), "tests/test_a.py": TWO_TESTS });
    const run = await testsGate.run(ctx);
    expect(inconsistent(run)?.message).toMatch(/exited 0 but its report has failing checks/);
    expect(run.checks.find((c) => c.id === "tests/test_a.py::test_bug")?.status).toBe("fail");
  });

  it("exit 1 with a report where everything passed: report-inconsistent", async () => {
    const ctx = jailedContext({ ...afterReport("os._exit(1)"), "tests/test_a.py": OK_TEST });
    const run = await testsGate.run(ctx);
    expect(inconsistent(run)?.message).toMatch(/failed \(exit 1\) but reported no failing check/);
  });

  it("a report forged after pytest wrote it (all passed, exit 0) disagrees with pytest's own summary line", async () => {
    const forge = `open(p, "w").write(${JSON.stringify(passingReport(["test_ok", "test_bug"]))})\nos._exit(0)`;
    const ctx = jailedContext({ ...afterReport(forge), "tests/test_a.py": TWO_TESTS });
    const run = await testsGate.run(ctx);
    expect(inconsistent(run)?.message).toMatch(
      /summary says 1 passed, 1 failed or errors, 0 skipped; its report says 2, 0, 0/,
    );
    expect(failing(run).map((c) => c.id)).toEqual(["pytest:report-inconsistent"]);
  });

  it("a forged report and summary that leave out the failing test disagree with a separate collection", async () => {
    const forge = `open(p, "w").write(${JSON.stringify(passingReport(["test_ok"]))})
sys.stdout.write("1 passed in 0.01s\\n")
sys.stdout.flush()
os._exit(0)`;
    const ctx = jailedContext({ ...afterReport(forge), "tests/test_a.py": TWO_TESTS });
    const run = await testsGate.run(ctx);
    expect(inconsistent(run)?.message).toMatch(
      /the report has 1 test\(s\); a separate collection of the same tests found 2/,
    );
  });

  it("exit handlers of code under test never run: a report forged at exit is not what the gate reads", async () => {
    const forge = `import atexit, os, sys
def _forge():
    for a in sys.argv:
        if a.startswith("--junitxml="):
            open(a.split("=", 1)[1], "w").write(${JSON.stringify(passingReport(["test_ok", "test_bug"]))})
    os._exit(0)
atexit.register(_forge)
`;
    const ctx = jailedContext({ "tests/test_a.py": forge + TWO_TESTS });
    const run = await testsGate.run(ctx);
    expect(run.error).toBeUndefined();
    expect(failing(run).map((c) => c.id)).toEqual(["tests/test_a.py::test_bug"]);
  });

  it("a pytest.py in the tree cannot stand in for pytest", async () => {
    const ctx = jailedContext({
      "pytest.py": 'import sys\nprint("2 passed in 0.01s")\nsys.exit(0)\n',
      "tests/test_a.py": TWO_TESTS,
    });
    const run = await testsGate.run(ctx);
    expect(run.error).toBeUndefined();
    expect(failing(run).map((c) => c.id)).toEqual(["tests/test_a.py::test_bug"]);
  });

  it("an inconsistent result is never tolerated as a known baseline failure", () => {
    const bad: Check = {
      gate: "tests",
      id: "pytest:report-inconsistent",
      status: "fail",
      errorType: "report-inconsistent",
      message: "forged",
    };
    const result = (checks: Check[]): GateResult => ({
      treeHash: "t",
      startedAt: "",
      durationMs: 0,
      runs: [{ gate: "tests", durationMs: 0, checks }],
    });
    const v = decideVerdict(result([bad]), result([bad]), { gates: GATES });
    expect(v.promotable).toBe(false);
    expect(v.newFailures).toEqual([bad]);
    expect(v.stillFailing).toEqual([]);
  });

  it("an honest run with failures, skips and a collection error agrees on every channel (-x in addopts too)", async () => {
    const ctx = jailedContext({
      "pytest.ini": "[pytest]\naddopts = -x -qq\n",
      "tests/test_a.py": `import pytest\n${TWO_TESTS}\n@pytest.mark.skip\ndef test_skipped():\n    pass\n`,
      "tests/test_broken.py": "import no_such_module\n",
    });
    const run = await testsGate.run(ctx);
    expect(inconsistent(run)).toBeUndefined();
    expect(run.error).toBeUndefined();
    expect(
      failing(run)
        .map((c) => c.id)
        .sort(),
    ).toEqual(["tests/test_a.py::test_bug", "tests/test_broken.py"]);
  });
});

/** pkg/state.py holds a module-level flag that one test sets and another reads: an order dependence. */
const STATEFUL = {
  "pkg/__init__.py": "",
  "pkg/state.py": "ready = False\n",
  "tests/__init__.py": "",
};

describe("order-dependent failures (item 10)", () => {
  it("fails in the full run, passes alone, fails again in the full run: order-dependent, a real failure", async () => {
    const ctx = jailedContext({
      ...STATEFUL,
      // test_a runs first in the full run and leaves the flag set; test_b expects it unset.
      "tests/test_order.py":
        "from pkg import state\n\ndef test_a():\n    state.ready = True\n\ndef test_b():\n    assert not state.ready\n",
    });
    const run = await runWithFlakeReruns(testsGate, ctx, {}, 2);
    const b = run.checks.find((c) => c.id === "tests/test_order.py::test_b")!;
    expect(b).toMatchObject({ status: "fail", errorType: "order-dependent" });
    expect(b.message).toMatch(/^fails in the full run \(again in 2 more\) and passes alone/);
    const baseline: GateResult = {
      treeHash: "m",
      startedAt: "",
      durationMs: 0,
      runs: [{ gate: "tests", durationMs: 0, checks: [{ ...b, status: "pass" }] }],
    };
    const v = decideVerdict(
      baseline,
      { treeHash: "c", startedAt: "", durationMs: 0, runs: [run] },
      { gates: GATES },
    );
    expect(v.promotable).toBe(false);
    expect(v.newFailures.map((c) => c.id)).toEqual(["tests/test_order.py::test_b"]);
    expect(v.flaky).toEqual([]);
  }, 60_000);

  it("a fix task's target that passes only after another test ran is not fixed (verified alone)", async () => {
    const target = "tests/test_order.py::test_target";
    const ctx = jailedContext({
      ...STATEFUL,
      "tests/test_order.py":
        "from pkg import state\n\ndef test_a():\n    state.ready = True\n\ndef test_target():\n    assert state.ready\n",
    });
    const baseline: GateResult = {
      treeHash: "m",
      startedAt: "",
      durationMs: 0,
      runs: [{ gate: "tests", durationMs: 0, checks: [{ gate: "tests", id: target, status: "fail" }] }],
    };
    const task = { kind: "failure" as const, target, title: "fix", signature: "x", gate: "tests" };
    const cand = await checkGates(ctx, { gates: [testsGate], target: task, treeHash: "c", flakeReruns: 0 });
    const full = cand.runs.find((r) => (r.scope ?? "full") === "full")!;
    expect(full.checks.find((c) => c.id === target)).toMatchObject({
      status: "fail",
      errorType: "order-dependent",
    });
    expect(full.checks.find((c) => c.id === target)?.message).toMatch(
      /passes in the full run but fails alone/,
    );
    const v = decideVerdict(baseline, cand, { gates: GATES, target: task });
    expect(v.targetFixed).toBe(false);
    expect(v.promotable).toBe(false);
  }, 60_000);
});

describe("the host reads nothing of a candidate's tree that could block or lead outside it", () => {
  it("selecting tests for a change skips FIFOs and links (a FIFO named like a test would block the read)", () => {
    const root = tempDir("oi honest select ");
    const outside = path.join(root, "outside.py");
    writeFileSync(outside, "import pkg.calc\n");
    const repo = path.join(root, "repo");
    writeFiles(repo, {
      "pkg/__init__.py": "",
      "pkg/calc.py": "def add(a, b):\n    return a + b\n",
      "tests/test_calc.py": "from pkg.calc import add\n",
      "tests/test_other.py": "def test_x():\n    pass\n",
    });
    execFileSync("mkfifo", [path.join(repo, "tests", "test_fifo.py")]);
    symlinkSync(outside, path.join(repo, "tests", "test_outside.py"));
    symlinkSync("..", path.join(repo, "tests", "loop"));
    expect(selectTestsForChanges(repo, ["pkg/calc.py"], "pytest")).toEqual(["tests/test_calc.py"]);
  });

  it("folders and files the host makes in a gate output folder never follow links planted by an earlier run", () => {
    const root = tempDir("oi honest out ");
    const out = path.join(root, "out");
    const outside = path.join(root, "outside");
    mkdirSync(path.join(outside, "hello"), { recursive: true });
    writeFileSync(path.join(outside, "hello", "keep.txt"), "not the gate's\n");
    mkdirSync(out);
    // What jailed code could leave in the output folder between two gate runs.
    symlinkSync(outside, path.join(out, "golden"));
    symlinkSync(outside, path.join(out, "validate"));
    // As the golden and validate gates make their folders and write run.log.
    const runDir = path.join(out, "golden", "hello");
    removeInside(out, runDir);
    folderInside(out, runDir);
    expect(lstatSync(path.join(out, "golden")).isSymbolicLink()).toBe(false);
    execFileSync("mkfifo", [path.join(runDir, "run.log")]);
    restoreInside(out, path.join(runDir, "run.log"), "log\n");
    expect(readFileSync(path.join(runDir, "run.log"), "utf8")).toBe("log\n");
    folderInside(out, path.join(out, "validate", "hello"));
    expect(lstatSync(path.join(out, "validate", "hello")).isDirectory()).toBe(true);
    expect(readFileSync(path.join(outside, "hello", "keep.txt"), "utf8")).toBe("not the gate's\n");
    expect(readdirSync(outside)).toEqual(["hello"]);
  });

  it("the model's file tools refuse to read a FIFO made in the sandbox instead of blocking on it", () => {
    const sandbox = tempDir("oi honest fifo ");
    execFileSync("mkfifo", [path.join(sandbox, "pipe.py")]);
    const files = new LocalWorkspace(sandbox);
    expect(() => files.read("pipe.py")).toThrow(WorkspaceFileError);
    expect(() => files.read("pipe.py")).toThrow(/pipe\.py cannot be read: a FIFO/);
  });
});

describe("summary channels (pure)", () => {
  it("reads pytest's last summary line in its forms, and the collection count", () => {
    expect(parsePytestSummary("x\n==== 1 failed, 2 passed, 1 warning in 65.20s (0:01:05) ====\n")).toEqual({
      passed: 2,
      failed: 1,
      errors: 0,
      skipped: 0,
      xfailed: 0,
      xpassed: 0,
    });
    expect(parsePytestSummary("1 passed in 0.01s\n3 passed, 1 error in 0.02s\n")).toMatchObject({
      passed: 3,
      errors: 1,
    });
    expect(parsePytestSummary("no tests ran in 0.01s")).toMatchObject({ passed: 0, failed: 0 });
    expect(parsePytestSummary("all good")).toBeUndefined();
    expect(parsePytestCollected("t::a\n\n2/9 tests collected (7 deselected) in 0.01s\n")).toBe(2);
    expect(parsePytestCollected("9 tests collected, 1 error in 0.04s")).toBe(9);
    expect(parsePytestCollected("no tests collected in 0.01s")).toBe(0);
    expect(parsePytestCollected("nothing")).toBeUndefined();
  });

  it("node --test: the TAP summary must count what the JUnit report says", () => {
    const checks: Check[] = [
      { gate: "tests", id: "ok", status: "pass" },
      { gate: "tests", id: "bad", status: "fail" },
      { gate: "tests", id: "todo", status: "skip" },
    ];
    const tap = (p: number, f: number) =>
      `# tests 3\n# pass ${p}\n# fail ${f}\n# cancelled 0\n# skipped 0\n# todo 1\n`;
    expect(nodeTestDisagreements(tap(1, 1), checks)).toEqual([]);
    expect(nodeTestDisagreements(tap(2, 0), checks)).toEqual([
      "node --test's summary says 2 passed, 0 failed or cancelled, 1 skipped; its report says 1, 1, 1",
    ]);
    expect(nodeTestDisagreements("ok 1 - ok\n", checks)[0]).toMatch(/printed no TAP summary/);
  });
});

/** Host processes whose command line contains `marker` (the jail's PID namespace must take them all with it). */
function hostProcessesWith(marker: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker)) found.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe("nothing a candidate does makes a gate outlive its timeout", () => {
  it("a test that forks a TERM-ignoring daemon holding stdout, then hangs, ends at the timeout and leaves nothing", async () => {
    const marker = `oi-daemon-${process.pid}-${Date.now()}`;
    const ctx = jailedContext(
      {
        "tests/test_hang.py": `import os, signal, subprocess, sys, time
def test_hang():
    subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)", "${marker}"], start_new_session=True)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(600)
`,
      },
      5,
    );
    const started = Date.now();
    const run = await testsGate.run(ctx);
    // 5 s timeout + 3 s grace between TERM and KILL + the output drain, with room for a loaded machine.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(failing(run).map((c) => c.errorType)).toEqual(["GateTimeout"]);
    // The daemon left its process group but not the jail's PID namespace: the kernel kills it when the jail's init
    // dies, which it finishes a moment after the gate returns.
    await expect.poll(() => hostProcessesWith(marker), { timeout: 3000, interval: 50 }).toEqual([]);
  }, 40_000);

  it("a stop request ends a jailed gate run that ignores TERM", async () => {
    const ctx = jailedContext({
      "tests/test_hang.py":
        "import signal, time\ndef test_hang():\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n    time.sleep(600)\n",
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 2000);
    const started = Date.now();
    const run = await testsGate.run({ ...ctx, signal: ac.signal });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(run.error).toMatch(/stopped/);
    expect(run.checks.some((c) => c.status === "pass")).toBe(false);
  }, 40_000);
});
