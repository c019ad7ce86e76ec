import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EnvironmentStateError, OdibiImproveError } from "../src/core/index.js";
import { SacredGuard } from "../src/environment/sacred.js";
import { EventLog } from "../src/events/log.js";
import { runProcess } from "../src/exec/run-process.js";
import { assessLiveness, readStatus } from "../src/status/index.js";
import { tempDir } from "./helpers.js";

function setup() {
  const root = tempDir();
  const sacred = path.join(root, "sacred");
  mkdirSync(sacred);
  return { root, guard: new SacredGuard(sacred), sacred };
}

/** status.json of a run that just started in this process (as the campaign writes it). */
function started(root: string, guard: SacredGuard, campaign: string) {
  new EventLog(root, guard).append({
    type: "campaign_start",
    campaign,
    resume: false,
    pid: process.pid,
    host: os.hostname(),
    isolation_warning: null,
  });
  return readStatus(root)!.status;
}

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
    started(root, guard, "live");
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
    const s = started(root, guard, "h");
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
