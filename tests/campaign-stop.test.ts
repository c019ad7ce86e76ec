import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { git, statusLines } from "../src/environment/git.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { readEvents } from "../src/events/log.js";
import { reduceStatus } from "../src/events/reducers.js";
import { runProcess } from "../src/exec/run-process.js";
import { cli, crashThenResume } from "./campaign-cli.js";
import { CLI, makeGitRepo, tempDir } from "./helpers.js";

/** A repo whose test suite is slow enough to be caught mid-gate. */
async function slowRepo(base: string) {
  return makeGitRepo(path.join(base, "repo"), {
    "pkg/__init__.py": "",
    "pkg/core.py": "import os\n\n\ndef add(a, b):\n    return a + b\n",
    "tests/test_core.py":
      "import time\n\nfrom pkg.core import add\n\n\ndef test_add():\n    time.sleep(6)\n    assert add(1, 2) == 3\n",
    "pyproject.toml": '[project]\nname = "pkg"\nversion = "0.1.0"\n',
  });
}

async function waitFor(pred: () => boolean, ms = 120_000) {
  const until = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 200));
  }
}

const status = (root: string) =>
  existsSync(path.join(root, "status.json"))
    ? JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"))
    : null;

describe("stopping a running campaign", () => {
  // SIGHUP: the terminal (on Windows, the console window) was closed.
  it.each(["stop command", "SIGTERM", "SIGHUP"])(
    "%s: the current step ends cleanly, the sandbox is destroyed, status says STOPPED, exit 3",
    async (how) => {
      const base = tempDir();
      const sacred = await slowRepo(base);
      const fp = takeFingerprint(sacred).digest;
      const root = path.join(base, "improve");
      expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
      const master = path.join(root, "master");
      const head = (await git(master, ["rev-parse", "HEAD"])).trim();
      expect((await cli(["--root", root, "snapshot", "--name", "s0"])).code).toBe(0);

      const abort = new AbortController();
      const running = runProcess(
        process.execPath,
        [CLI, "--root", root, "run", "--no-llm", "--max-cycles", "5"],
        {
          cwd: base,
          env: { ODIBI_IMPROVE_VENV: inject("venv") },
          timeoutMs: 300_000,
          graceMs: 120_000, // SIGTERM first; the run must end by itself well before KILL
          signal: abort.signal,
        },
      );
      // Wait until the first cycle is inside its baseline gates (the slow test is running).
      await waitFor(() => status(root)?.step?.name === "gates_before");
      // One campaign per root: a second run and a rollback are refused while this one holds the lock.
      const lockHeld = /the campaign lock of .* is held by pid \d+/;
      const second = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "1"]);
      expect(second.code).toBe(4);
      expect(second.err).toMatch(lockHeld);
      expect(second.err).toContain("odibi-improve stop");
      const rollback = await cli(["--root", root, "rollback", "s0"]);
      expect(rollback.code).toBe(4);
      expect(rollback.err).toMatch(lockHeld);
      const reinit = await cli(["init", "--source", sacred, "--root", root, "--force"]);
      expect(reinit.code).toBe(4);
      expect(reinit.err).toMatch(lockHeld);
      expect(readdirSync(root).filter((n) => n.startsWith(".replaced-"))).toEqual([]);
      if (how === "SIGTERM") abort.abort();
      else if (how === "SIGHUP") process.kill(status(root).pid, "SIGHUP");
      else expect((await cli(["--root", root, "stop"])).out).toMatch(/stop requested/);
      const r = await running;

      expect(r.signal).toBeNull();
      expect(r.exitCode).toBe(3);
      const s = status(root);
      expect(s).toMatchObject({ status: "stopped", stop_reason: "STOPPED" });
      expect(readdirSync(path.join(root, "sandboxes")).filter((n) => !n.startsWith("."))).toEqual([]);
      expect(await statusLines(master)).toEqual([]);
      expect((await git(master, ["rev-parse", "HEAD"])).trim()).toBe(head);
      expect((await cli(["--root", root, "status"])).out).toMatch(/stopped \(STOPPED\)/);
      // No gate process survived the stop.
      const ps = await runProcess("ps", ["-eo", "args"], { cwd: base });
      expect(ps.stdout).not.toContain(path.join(root, "sandboxes"));
      // A later run starts cleanly and does the work.
      const next = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "1"]);
      expect(next.code).toBe(3); // MAX_CYCLES_REACHED
      expect(readFileSync(path.join(master, "pkg/core.py"), "utf8")).not.toContain("import os");
      expect(takeFingerprint(sacred).digest).toBe(fp);
    },
  );
});

describe("stop means stop", () => {
  it("a stop during a cycle's gates ends the run: no new approach, no final gate run on Master", async () => {
    const base = tempDir();
    const sacred = await slowRepo(base);
    const root = path.join(base, "improve");
    expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
    const running = runProcess(
      process.execPath,
      [CLI, "--root", root, "run", "--no-llm", "--max-cycles", "5"],
      { cwd: base, env: { ODIBI_IMPROVE_VENV: inject("venv") }, timeoutMs: 300_000 },
    );
    // The slow test is running in the baseline: it is cut, so Master's tree has no cached tests result.
    await waitFor(() => status(root)?.step?.name === "gates_before");
    expect((await cli(["--root", root, "stop"])).out).toMatch(/stop requested/);
    const r = await running;
    expect(r.exitCode).toBe(3);
    expect(status(root)).toMatchObject({ status: "stopped", stop_reason: "STOPPED", cycles_completed: 0 });
    const lines = r.stdout.split("\n");
    const cut = lines.findIndex((l) => /cycle 1 interrupted: STOPPED/.test(l));
    expect(cut).toBeGreaterThan(0);
    const after = lines.slice(cut);
    expect(after.join("\n")).toContain(`final Master check skipped: stop requested`);
    // No gate command ran after the stop (a cached result may be read: "[lint] cached result for tree …").
    expect(after.filter((l) => /\[(lint|tests)\] (?!cached result)/.test(l))).toEqual([]);
    const events = readFileSync(path.join(root, "events.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.filter((e) => e.type === "step").map((e) => e.step)).toEqual([
      "cycle_start",
      "sandbox_created",
      "cycle_end",
    ]);
    expect(events.at(-1)).toMatchObject({ type: "campaign_end", reason: "STOPPED" });
  });
});

describe("the time budget", () => {
  it("is checked inside a cycle: past it no approach starts; the campaign ends TIME_BUDGET_EXHAUSTED", async () => {
    const base = tempDir();
    const sacred = await slowRepo(base);
    const root = path.join(base, "improve");
    expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
    // 1.8 s of budget; the baseline's slow test alone takes 6 s: the gate may finish (its own timeout is the
    // limit), but nothing after it starts.
    const r = await cli(["--root", root, "run", "--no-llm", "--max-hours", "0.0005", "--max-cycles", "5"]);
    expect(r.code).toBe(3);
    expect(status(root)).toMatchObject({
      status: "completed",
      stop_reason: "TIME_BUDGET_EXHAUSTED",
      cycles_completed: 1,
    });
    expect(status(root).improvements_promoted).toBe(0);
    // The final check on Master runs nothing: the baseline of the same tree is in the gate cache.
    expect(r.out).toMatch(/\[tests\] cached result for tree/);
    expect(r.out).not.toContain("final Master check skipped");
    expect((await git(path.join(root, "master"), ["log", "--oneline", "sacred..HEAD"])).trim()).toBe("");
  });

  it("counts running time only: a run killed hours ago is resumed with a small --max-hours and works", async () => {
    // Killed before its promoted lesson was recorded (recovery records it), then dead for 10 hours: every event
    // the dead run wrote is moved 10 hours back, and status.json is what the log would have made of them.
    const hoursAgo = (iso: string) => new Date(Date.parse(iso) - 10 * 3_600_000).toISOString();
    const { root, resumed } = await crashThenResume(
      "promote_done",
      async ({ root }) => {
        const file = path.join(root, "events.jsonl");
        const events = readEvents(file).events.map((e) => ({ ...e, at: hoursAgo(e.at) }));
        writeFileSync(file, events.map((e) => `${JSON.stringify(e)}\n`).join(""));
        writeFileSync(path.join(root, "status.json"), JSON.stringify(reduceStatus(events)));
      },
      ["--max-hours", "0.5"],
    );
    const s = status(root);
    expect(s.stop_reason).not.toBe("TIME_BUDGET_EXHAUSTED");
    expect(resumed.out).not.toContain("TIME_BUDGET_EXHAUSTED");
    // The resumed run ran a cycle of its own.
    const events = readEvents(path.join(root, "events.jsonl")).events;
    const resumedAt = events.findLastIndex((e) => e.type === "campaign_start");
    expect(events.slice(resumedAt).some((e) => e.type === "step" && e.step === "cycle_start")).toBe(true);
    // The campaign started more than 10 hours ago, but ran for less than the budget.
    expect(Date.parse(s.updated_at) - Date.parse(s.started_at)).toBeGreaterThan(10 * 3_600_000);
    expect(s.elapsed_hours).toBeLessThan(0.5);
  });
});
