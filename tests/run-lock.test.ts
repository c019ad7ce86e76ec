import { spawn } from "node:child_process";
import { existsSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EnvironmentStateError } from "../src/core/errors.js";
import {
  isPidAlive,
  isStaleOwner,
  processStart,
  STALE_AFTER_MS,
  WriterLock,
} from "../src/environment/lock.js";
import { SacredGuard } from "../src/environment/sacred.js";
import { tempDir } from "./helpers.js";

/**
 * The run lock and dead holders: a real zombie (a child that exited and that its parent never reaps) answers
 * `kill(pid, 0)` like a live process; it must not keep the lock.
 */

const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid);
    } catch {
      // already gone
    }
  }
});

/** A zombie: a python process forks a child that exits at once, prints its pid and never waits for it. */
const ZOMBIE_MAKER =
  "import os, sys, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)\n";
async function makeZombie(): Promise<{ zombie: number; parent: number }> {
  const child = spawn("python3", ["-c", ZOMBIE_MAKER], { stdio: ["ignore", "pipe", "ignore"] });
  started.push(child.pid!);
  const zombie = await new Promise<number>((resolve) =>
    child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))),
  );
  const state = () => readFileSync(`/proc/${zombie}/stat`, "utf8").split(") ")[1]![0];
  for (let i = 0; i < 100 && state() !== "Z"; i++) await new Promise((r) => setTimeout(r, 20));
  expect(state()).toBe("Z");
  return { zombie, parent: child.pid! };
}

// The zombie check reads /proc/<pid>/stat, which only Linux has; elsewhere the lock knows only live and dead pids.
// CI runs on Linux, where these tests always run.
describe.skipIf(!existsSync("/proc/self/stat"))("run lock", () => {
  const dir = tempDir();
  const guard = new SacredGuard(path.join(dir, "sacred"));
  const owned = (file: string, pid: number) =>
    writeFileSync(file, JSON.stringify({ pid, host: os.hostname(), at: "2026-01-01T00:00:00Z" }));

  it("a zombie holder counts as dead: the lock is taken over", async () => {
    const { zombie, parent } = await makeZombie();
    expect(isPidAlive(zombie)).toBe(false);
    expect(isPidAlive(parent)).toBe(true);
    const file = path.join(dir, "zombie.lock");
    owned(file, zombie);
    const lock = WriterLock.acquire(guard, file, "the campaign lock");
    expect(JSON.parse(readFileSync(file, "utf8")).pid).toBe(process.pid);
    lock.release();
    expect(existsSync(file)).toBe(false);
  });

  it("a live holder keeps it", async () => {
    const { parent } = await makeZombie();
    const file = path.join(dir, "live.lock");
    owned(file, parent);
    expect(() => WriterLock.acquire(guard, file, "the campaign lock")).toThrow(EnvironmentStateError);
    expect(JSON.parse(readFileSync(file, "utf8")).pid).toBe(parent);
  });

  it("a live process that got a dead holder's pid does not keep it (pid reuse): the start time tells", async () => {
    const { parent } = await makeZombie();
    const file = path.join(dir, "reused.lock");
    const write = (start: string | undefined) =>
      writeFileSync(
        file,
        JSON.stringify({ pid: parent, host: os.hostname(), at: "2026-01-01T00:00:00Z", start }),
      );
    // The holder's start as the lock recorded it: the live process is that holder.
    write(processStart(parent));
    expect(() => WriterLock.acquire(guard, file, "the campaign lock")).toThrow(/held by pid/);
    // Another start: the holder died and its pid went to a new process.
    write("1");
    const lock = WriterLock.acquire(guard, file, "the campaign lock");
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({
      pid: process.pid,
      start: processStart(process.pid),
    });
    lock.release();
  });

  it("without a start time (no procfs: Windows, macOS) a lock its holder stopped touching is stale", async () => {
    const { parent } = await makeZombie();
    const file = path.join(dir, "untouched.lock");
    owned(file, parent);
    expect(isStaleOwner(JSON.parse(readFileSync(file, "utf8")), file)).toBe(false);
    const old = new Date(Date.now() - STALE_AFTER_MS - 60_000);
    utimesSync(file, old, old);
    expect(isStaleOwner(JSON.parse(readFileSync(file, "utf8")), file)).toBe(true);
    WriterLock.acquire(guard, file, "the campaign lock").release();
  });
});
