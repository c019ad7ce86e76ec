import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readEvents } from "../src/events/log.js";
import { reduceJournal, reduceStatus } from "../src/events/reducers.js";
import type { LogEvent } from "../src/events/schema.js";
import { cli, LINT_FIXTURE } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/** A tiny python repo with one ruff-fixable defect (an unused import), initialised as an environment. */
async function setup() {
  const base = tempDir();
  const sacred = await makeGitRepo(path.join(base, "repo"), LINT_FIXTURE);
  const root = path.join(base, "improve");
  expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
  const cfg = path.join(root, "config.yaml");
  writeFileSync(cfg, readFileSync(cfg, "utf8").replace("gates:\n", "gates:\n  flake_reruns: 0\n"));
  return root;
}

const events = (root: string) => readEvents(path.join(root, "events.jsonl")).events;
const statusJson = (root: string) => JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
/** An event's kind, with the step of a journaled step. */
const kind = (e: LogEvent) => (e.type === "step" ? e.step : e.type === "phase" ? `phase:${e.name}` : e.type);
/** How every cycle begins in the log. */
const CYCLE_HEAD = [
  "cycle_start",
  "sandbox_created",
  "phase:gates_before",
  "gate_run",
  "gates_before",
  "waiting",
  "work_found",
];

/** Lines the run printed (its progress lines, without the live line). */
const printed = (out: string) =>
  out
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("["));

/** The first run is killed (kill -9) once cycle 1 has promoted and written its report. */
async function killedAfterCycleOne(root: string) {
  const run = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "1"], {
    ODIBI_IMPROVE_CRASH_AT: "report_written",
  });
  expect(run.signal, run.err).toBe("SIGKILL");
  return run;
}

const resume = (root: string) =>
  cli(["--root", root, "run", "--no-llm", "--resume", "--max-cycles", "2", "--convergence", "1"]);

describe("the event log of a real campaign (CLI, real git and ruff, no LLM)", () => {
  it("holds every step, gate run, decision and lesson; status.json is its reduction; --resume goes on; the run log has the run's lines", async () => {
    const root = await setup();
    const first = await killedAfterCycleOne(root);
    const cycleOne = events(root);
    expect(cycleOne.map(kind)).toEqual([
      "campaign_start",
      "avoided",
      ...CYCLE_HEAD,
      "attempt_done",
      "gate_run",
      "decided",
      "snapshot_done",
      "promote_begin",
      "promote_done",
      "lesson",
      "lesson_recorded",
      "avoided",
      "report_written",
    ]);
    expect(cycleOne.filter((e) => e.type === "gate_run").map((e) => e.label)).toEqual([
      "before",
      expect.stringMatching(/^after-/),
    ]);
    expect(cycleOne.find((e) => e.type === "lesson")).toMatchObject({
      cycle: 1,
      lesson: { outcome: "promoted" },
    });
    expect(statusJson(root)).toEqual(reduceStatus(cycleOne));
    const id = statusJson(root).campaign_id;

    const again = await resume(root);
    expect(again.err).not.toMatch(/error:/);
    expect([0, 3]).toContain(again.code);
    const all = events(root);
    const later = all.slice(cycleOne.length);
    // Recovery closes cycle 1, the same campaign goes on with cycle 2 (nothing left to do: NO_WORK).
    expect(later.map(kind)).toEqual([
      "recovered",
      "campaign_start",
      "avoided",
      ...CYCLE_HEAD,
      "avoided",
      "report_written",
      "cycle_end",
      "phase:idle",
      "decision",
      "campaign_end",
      "gate_run",
    ]);
    // Master's final check (from the gate cache: nothing changed since cycle 2's baseline) closes the log.
    expect(later.at(-1)).toMatchObject({ type: "gate_run", label: "final", master: { failing_total: 0 } });
    expect(new Set(later.map((e) => e.campaign))).toEqual(new Set([id]));
    expect(later.find((e) => e.type === "campaign_start")).toMatchObject({ resume: true });
    expect(later.find((e) => e.type === "step" && e.step === "cycle_start")).toMatchObject({ cycle: 2 });
    expect(statusJson(root)).toEqual(reduceStatus(all));
    expect(statusJson(root)).toMatchObject({ campaign_id: id, status: "completed", cycles_completed: 1 });
    expect(reduceJournal(all).filter((e) => e.step === "recovered")).toMatchObject([{ cycle: 1 }]);
    // The campaign report is derived from the events: cycle 1 (killed after its promotion) and cycle 2.
    const report = readFileSync(path.join(root, "reports", `campaign_${id}_report.md`), "utf8");
    const section = (name: string) => report.split(`## ${name}`)[1]!.split("\n## ")[0]!;
    expect(section("Promotions")).toMatch(/\[1\]\(cycle_001_report\.md\)/);
    expect(section("Cycles")).toMatch(/\[1\]\(cycle_001_report\.md\)[^\n]*promoted/);
    expect(section("Cycles")).toMatch(/\[2\]\(cycle_002_report\.md\)[^\n]*no_change/);
    expect(report).not.toContain("### Regressions");

    // The run log: every progress line both runs printed, in order.
    expect(readdirSync(path.join(root, "logs"))).toEqual([`${id}.log`]);
    const log = readFileSync(path.join(root, "logs", `${id}.log`), "utf8").split("\n");
    const lines = [...printed(first.out), ...printed(again.out)];
    expect(lines.length).toBeGreaterThan(5);
    expect(log.filter((l) => l.startsWith("["))).toEqual(lines);
    expect(log.join("\n")).toContain(`Campaign ${id}: NO_WORK. 1 cycle(s)`);
  });

  it("takes over a root written before the event log: status, report and --resume go on from its status.json and journal", async () => {
    const root = await setup();
    await killedAfterCycleOne(root);
    // The root as the previous version left it: status.json and journal.jsonl, no events.jsonl and no logs.
    const journal = reduceJournal(events(root));
    writeFileSync(path.join(root, "journal.jsonl"), `${journal.map((e) => JSON.stringify(e)).join("\n")}\n`);
    rmSync(path.join(root, "events.jsonl"));
    rmSync(path.join(root, "logs"), { recursive: true });
    const old = statusJson(root);
    const cycleReport = path.join(root, "reports", "cycle_001_report.md");
    const reportBefore = readFileSync(cycleReport, "utf8");

    const st = await cli(["--root", root, "status", "--json"]);
    expect(st.code, st.err).toBe(0);
    expect(JSON.parse(st.out).campaign).toMatchObject({
      campaign_id: old.campaign_id,
      effective_status: "crashed",
    });
    const rep = await cli(["--root", root, "report"]);
    expect(rep.code, rep.err).toBe(0);
    expect(rep.out).toContain(old.campaign_id);
    expect(existsSync(path.join(root, "events.jsonl"))).toBe(false); // reading does not write

    const again = await resume(root);
    expect(again.err).not.toMatch(/error:/);
    expect([0, 3]).toContain(again.code);
    const all = events(root);
    expect(all[0]).toMatchObject({ type: "imported", campaign: old.campaign_id, journal });
    expect(all.slice(1).map(kind).slice(0, 4)).toEqual([
      "recovered",
      "campaign_start",
      "avoided",
      "cycle_start",
    ]);
    expect(all.find((e) => e.type === "step" && e.step === "cycle_start")).toMatchObject({ cycle: 2 });
    expect(statusJson(root)).toEqual(reduceStatus(all));
    expect(statusJson(root)).toMatchObject({ campaign_id: old.campaign_id, started_at: old.started_at });
    // Cycle 1's report is not overwritten: cycle 2 has its own.
    expect(readFileSync(cycleReport, "utf8")).toBe(reportBefore);
    expect(existsSync(path.join(root, "reports", "cycle_002_report.md"))).toBe(true);
  });
});
