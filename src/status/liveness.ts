import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { z } from "zod";
import { EnvironmentStateError, OdibiImproveError } from "../core/errors.js";
import { layoutOf } from "../environment/layout.js";
import { isPidAlive } from "../environment/lock.js";
import { type CampaignState, type CampaignStatus, StatusSchema } from "./schema.js";

/** The run rewrites status.json's heartbeat this often (events/log.ts)… */
export const HEARTBEAT_INTERVAL_MS = 30_000;
/** …and a reader calls a "running" status dead when the heartbeat is older than this. */
export const HEARTBEAT_STALE_MS = 5 * 60_000;

export interface StatusReading {
  status: CampaignStatus;
  /** What the run really is: `crashed` when the file says running but the process is gone or silent. */
  effective: CampaignState;
  /** Plain sentence for the user when the file and reality disagree, else null. */
  note: string | null;
}

export interface LivenessOptions {
  now?: Date;
  staleAfterMs?: number;
  host?: string;
  isAlive?: (pid: number) => boolean;
}

/** Pure judgement of whether a "running" status still has a live process behind it. */
export function assessLiveness(status: CampaignStatus, opts: LivenessOptions = {}): StatusReading {
  if (status.status !== "running") return { status, effective: status.status, note: null };
  const now = opts.now ?? new Date();
  const staleAfter = opts.staleAfterMs ?? HEARTBEAT_STALE_MS;
  const host = opts.host ?? os.hostname();
  const isAlive = opts.isAlive ?? isPidAlive;
  const ageMs = now.getTime() - Date.parse(status.heartbeat_at);
  const age = `${Math.round(ageMs / 1000)}s ago`;
  if (status.host === host && !isAlive(status.pid)) {
    return {
      status,
      effective: "crashed",
      note: `the run died: status says running but process ${status.pid} is gone (last heartbeat ${age}); resume it with \`odibi-improve run --resume\``,
    };
  }
  if (ageMs > staleAfter) {
    return {
      status,
      effective: "crashed",
      note: `the run seems dead: no heartbeat for ${age} (process ${status.pid} on ${status.host}); if it is gone, resume it with \`odibi-improve run --resume\``,
    };
  }
  return { status, effective: "running", note: null };
}

/** Reads `<root>/status.json`; null when no campaign has run yet. A malformed file is a clear error. */
export function readStatus(root: string, opts: LivenessOptions = {}): StatusReading | null {
  const file = layoutOf(root).status;
  if (!existsSync(file)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new EnvironmentStateError(`${file} is not valid JSON: ${(err as Error).message}`, {
      hint: "It is written atomically, so this is not a torn write; delete it if you edited it by hand.",
    });
  }
  const parsed = StatusSchema.safeParse(raw);
  if (!parsed.success) {
    throw new OdibiImproveError(
      `${file} does not look like a campaign status:\n${z.prettifyError(parsed.error)}`,
      {
        hint: "It may have been written by a newer or older odibi-improve; delete it to start fresh.",
      },
    );
  }
  return assessLiveness(parsed.data, opts);
}
