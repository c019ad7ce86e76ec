import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EnvironmentStateError, OdibiImproveError, SacredViolation } from "../src/core/index.js";
import { SacredGuard } from "../src/environment/sacred.js";
import { runProcess } from "../src/exec/run-process.js";
import { assessLiveness, readStatus, StatusSchema, StatusTracker } from "../src/status/index.js";
import { tempDir } from "./helpers.js";

function setup() {
  const root = tempDir();
  const sacred = path.join(root, "sacred");
  mkdirSync(sacred);
  return { root, guard: new SacredGuard(sacred), sacred };
}

/** A clock the test moves by hand. */
function clock(startIso = "2025-12-16T22:00:00.000Z") {
  let t = Date.parse(startIso);
  return {
    now: () => new Date(t),
    advanceMin: (m: number) => {
      t += m * 60_000;
    },
  };
}

const onDisk = (root: string) =>
  StatusSchema.parse(JSON.parse(readFileSync(path.join(root, "status.json"), "utf8")));

describe("StatusTracker", () => {
  it("writes a valid status.json at every step and counts cycles, promotions and convergence", () => {
    const { root, guard } = setup();
    const c = clock();
    const t = new StatusTracker(root, {
      guard,
      campaignId: "campaign_x",
      now: c.now,
      isolationWarning: "bwrap missing",
    });
    expect(onDisk(root)).toMatchObject({ status: "running", current_cycle: 0, pid: process.pid, step: null });

    t.startCycle(1);
    c.advanceMin(3);
    t.setStep("gates:before", { cycle: 1, detail: "lint" });
    expect(onDisk(root).step).toEqual({
      name: "gates:before",
      since: "2025-12-16T22:03:00.000Z",
      cycle: 1,
      detail: "lint",
    });
    c.advanceMin(27);
    t.finishCycle({ promoted: true, rejected: false, learned: true });
    t.startCycle(2);
    t.finishCycle({ promoted: false, rejected: true, learned: false });
    t.startCycle(3);
    t.finishCycle({ promoted: false, rejected: false, learned: false, masterChanges: 4 });
    t.addLlmUsage(1200, 0.01);
    t.addLlmUsage(800, 0.02);
    t.setAvoided(["sig_a"]);
    const s = onDisk(root);
    expect(s).toMatchObject({
      campaign_id: "campaign_x",
      current_cycle: 3,
      cycles_completed: 3,
      improvements_promoted: 1,
      improvements_rejected: 1,
      master_changes: 4,
      last_promotion: "2025-12-16T22:30:00.000Z",
      convergence_counter: 2,
      issues_avoided: ["sig_a"],
      elapsed_hours: 0.5,
      isolation_warning: "bwrap missing",
      step: null,
      llm: { tokens: 2000 },
    });
    expect(s.llm.cost_usd).toBeCloseTo(0.03);

    c.advanceMin(30);
    t.finish("completed", "CONVERGED");
    expect(onDisk(root)).toMatchObject({
      status: "completed",
      stop_reason: "CONVERGED",
      finished_at: "2025-12-16T23:00:00.000Z",
      elapsed_hours: 1,
    });
    expect(readStatus(root)?.effective).toBe("completed");
  });

  it("resumes counters from an earlier status and keeps its start time", () => {
    const { root, guard } = setup();
    const c = clock();
    const t = new StatusTracker(root, { guard, campaignId: "k", now: c.now });
    t.startCycle(1);
    t.finishCycle({ promoted: true, rejected: false, learned: true });
    c.advanceMin(60);
    const prev = readStatus(root)!.status;
    const r = new StatusTracker(root, { guard, campaignId: "k", now: c.now, resumeFrom: prev });
    expect(r.current).toMatchObject({
      cycles_completed: 1,
      improvements_promoted: 1,
      elapsed_hours: 1,
      status: "running",
    });
  });

  it("refuses to write status inside Sacred", () => {
    const { guard, sacred } = setup();
    expect(() => new StatusTracker(sacred, { guard, campaignId: "x" })).toThrow(SacredViolation);
  });
});

describe("readStatus", () => {
  it("returns null when no campaign ran and a clear error for a broken file", () => {
    const { root } = setup();
    expect(readStatus(root)).toBeNull();
    writeFileSync(path.join(root, "status.json"), "{");
    expect(() => readStatus(root)).toThrow(EnvironmentStateError);
    writeFileSync(path.join(root, "status.json"), JSON.stringify({ campaign_id: "x", status: "RUNNING" }));
    expect(() => readStatus(root)).toThrow(OdibiImproveError);
    expect(() => readStatus(root)).toThrow(/does not look like a campaign status/);
  });

  it("says the run died when its process is gone", async () => {
    const { root, guard } = setup();
    new StatusTracker(root, { guard, campaignId: "live" });
    expect(readStatus(root)).toMatchObject({ effective: "running", note: null });

    // a real process that has exited: its pid is no longer alive
    const child = await runProcess(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      cwd: root,
    });
    const file = path.join(root, "status.json");
    const s = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, JSON.stringify({ ...s, pid: Number(child.stdout) }));
    const r = readStatus(root)!;
    expect(r.status.status).toBe("running");
    expect(r.effective).toBe("crashed");
    expect(r.note).toMatch(new RegExp(`the run died: .*process ${child.stdout} is gone`));
  });

  it("uses the heartbeat when the run is on another host", () => {
    const { root, guard } = setup();
    const c = clock();
    const s = new StatusTracker(root, { guard, campaignId: "h", now: c.now }).current;
    const elsewhere = { ...s, host: "other-machine" };
    const fresh = assessLiveness(elsewhere, { now: new Date(Date.parse(s.heartbeat_at) + 60_000) });
    expect(fresh.effective).toBe("running");
    const stale = assessLiveness(elsewhere, { now: new Date(Date.parse(s.heartbeat_at) + 6 * 60_000) });
    expect(stale.effective).toBe("crashed");
    expect(stale.note).toMatch(/no heartbeat for 360s/);
    // a stopped run is what it says, whatever its pid
    expect(assessLiveness({ ...elsewhere, status: "stopped" }, { isAlive: () => false }).effective).toBe(
      "stopped",
    );
  });
});
