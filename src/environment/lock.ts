import { readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import { EnvironmentStateError } from "../core/errors.js";
import type { SacredGuard } from "./sacred.js";

/**
 * One holder at a time: a lock file holding the holder's pid, host and process start. Guards the campaign memory
 * (one writer) and a root's campaign (`run`, `rollback`, `init --force`). A lock left by a process that no longer
 * exists on this host is stale and taken over (a crashed campaign must not block the next one). A new process that
 * got the dead holder's pid (Windows reuses pids quickly) does not keep it: on Linux the process's start time
 * (`/proc/<pid>/stat`) must match; elsewhere the holder touches the file every minute, and a lock not touched for
 * `STALE_AFTER_MS` is stale.
 */

export interface LockOwner {
  pid: number;
  host: string;
  at: string;
  /** The holder's start time in clock ticks after boot (Linux), which a reused pid does not share. */
  start?: string;
}

export const LOCK_TOUCH_MS = 60_000;
export const STALE_AFTER_MS = 10 * 60_000;

/**
 * The fields of `/proc/<pid>/stat` after the command name, from the state (field 3) on; undefined without procfs
 * (Windows, macOS) or process. The name may hold spaces and parentheses, so the fields follow the last ")".
 */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** A process's start time after boot (field 22 of /proc/<pid>/stat); undefined without procfs or process. */
export function processStart(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

/** Whether a lock's holder is gone: a dead pid on this host, a reused pid, or (without procfs) a file not touched. */
export function isStaleOwner(owner: LockOwner | null, file: string, host = os.hostname()): boolean {
  if (owner === null) return true;
  if (owner.host !== host) return false;
  if (!isPidAlive(owner.pid)) return true;
  const start = processStart(owner.pid);
  if (owner.start !== undefined && start !== undefined) return start !== owner.start;
  try {
    return Date.now() - statSync(file).mtimeMs > STALE_AFTER_MS;
  } catch {
    return true;
  }
}

/**
 * Whether a process still runs. A zombie (exited, not yet reaped by its parent: state `Z` in `/proc/<pid>/stat`)
 * answers signal 0 like a live process but will never release anything, so it counts as dead.
 */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return !isZombie(pid);
}

/** A zombie: state `Z` (without procfs, signal 0 is all there is). */
function isZombie(pid: number): boolean {
  return procStat(pid)?.[0] === "Z";
}

function readOwner(file: string): LockOwner | null {
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as Partial<LockOwner>;
    if (typeof v.pid === "number" && typeof v.host === "string")
      return {
        pid: v.pid,
        host: v.host,
        at: String(v.at ?? ""),
        ...(typeof v.start === "string" ? { start: v.start } : {}),
      };
  } catch {
    // unreadable or half-written lock: treated as stale below
  }
  return null;
}

/**
 * Who holds a lock now: its owner when the file names a live process on this host (or any process on another
 * host, which cannot be checked from here); null when there is no lock or it is stale.
 */
export function lockHolder(file: string): LockOwner | null {
  const owner = readOwner(file);
  if (!owner) return null;
  return owner.host !== os.hostname() || isPidAlive(owner.pid) ? owner : null;
}

export class WriterLock {
  private held = false;
  private timer: NodeJS.Timeout | undefined;
  private constructor(
    private readonly guard: SacredGuard,
    readonly file: string,
  ) {}

  /**
   * Takes the lock or throws EnvironmentStateError naming the holder. `subject` names what the lock guards, for
   * the message ("campaign memory", "the campaign lock of <root>").
   */
  static acquire(guard: SacredGuard, file: string, subject = "campaign memory"): WriterLock {
    guard.assertWritable(file);
    const lock = new WriterLock(guard, file);
    const start = processStart(process.pid);
    const me: LockOwner = {
      pid: process.pid,
      host: os.hostname(),
      at: new Date().toISOString(),
      ...(start ? { start } : {}),
    };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, JSON.stringify(me), { flag: "wx" });
        lock.held = true;
        lock.keepTouched();
        return lock;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const owner = readOwner(file);
      if (owner && !isStaleOwner(owner, file, me.host)) {
        throw new EnvironmentStateError(
          `${subject} is held by pid ${owner.pid} on ${owner.host} (since ${owner.at}): ${file}`,
          {
            hint:
              owner.host === me.host
                ? "Another campaign is running on this root; wait for it or stop it (`odibi-improve stop`)."
                : "A process on another host holds the lock; if it is gone, delete the lock file by hand.",
          },
        );
      }
      rmSync(file, { force: true });
    }
    throw new EnvironmentStateError(
      `could not take ${subject} (${file}): another process took it at the same time`,
      {
        hint: "Only one campaign may run on a root at a time.",
      },
    );
  }

  /** Touches the file every minute while held: a holder that died leaves it untouched (see `isStaleOwner`). */
  private keepTouched(): void {
    this.timer = setInterval(() => {
      try {
        const now = new Date();
        utimesSync(this.file, now, now);
      } catch {
        // taken away (init --force) or a moment of disk trouble: the next touch retries
      }
    }, LOCK_TOUCH_MS);
    this.timer.unref();
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    if (this.timer) clearInterval(this.timer);
    const owner = readOwner(this.file);
    if (owner && owner.pid === process.pid && owner.host === os.hostname()) {
      this.guard.assertWritable(this.file);
      rmSync(this.file, { force: true });
    }
  }
}
