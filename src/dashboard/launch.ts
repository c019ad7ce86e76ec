import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { EnvironmentStateError } from "../core/errors.js";
import { layoutOf } from "../environment/layout.js";
import { isPidAlive, type LockOwner, lockHolder } from "../environment/lock.js";
import type { SacredGuard } from "../environment/sacred.js";
import { openCampaignState } from "../events/read-model.js";
import { PACKAGE_ROOT } from "../pyenv/python-env.js";

/** The CLI a detached run starts (the package's own, whatever started this process). */
export const CLI_BIN = path.join(PACKAGE_ROOT, "bin", "odibi-improve.js");

/** The campaign running on `root` now (the holder of its run lock), or null. */
export function runningCampaign(root: string): LockOwner | null {
  return lockHolder(layoutOf(root).runLock);
}

/** A refusal naming the run that holds the root. */
export function refusedWhileRunning(root: string, holder: LockOwner): EnvironmentStateError {
  return new EnvironmentStateError(
    `a campaign is already running on ${root}: pid ${holder.pid} on ${holder.host} (since ${holder.at})`,
    { hint: "Wait for it, or stop it (`odibi-improve stop`, or Stop in the dashboard)." },
  );
}

export interface DetachedRun {
  pid: number;
  /** Where the detached process's own output goes (`<root>/logs/detached-<time>.out`). */
  output: string;
  /** The campaign's run log folder (`<root>/logs/<campaign>.log` once it has an id). */
  logs: string;
  /** The campaign and its run log, when it started within the wait. */
  campaign?: string;
  log?: string;
}

/**
 * Starts `odibi-improve --root <root> run <args>` as a detached process of its own (its own process group, no
 * terminal, output to a file under `<root>/logs/`), so it outlives whatever started it (a shell, the dashboard). A
 * root whose run lock is held is refused, naming the holder. Waits `settleMs` for an early exit (a bad option, a
 * lock taken meanwhile) and throws with the process's output then; then up to `waitMs` for its campaign's id.
 */
export async function startDetachedRun(
  root: string,
  guard: SacredGuard,
  args: string[],
  { settleMs = 1500, waitMs = 15_000 } = {},
): Promise<DetachedRun> {
  const holder = runningCampaign(root);
  if (holder) throw refusedWhileRunning(root, holder);
  const logs = layoutOf(root).logs;
  const output = path.join(logs, `detached-${new Date().toISOString().replace(/[:.]/g, "-")}.out`);
  guard.assertWritable(output);
  mkdirSync(logs, { recursive: true });
  const fd = openSync(output, "a");
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(process.execPath, [CLI_BIN, "--root", root, "run", ...args], {
      cwd: root,
      detached: true,
      stdio: ["ignore", fd, fd],
      windowsHide: true,
    });
  } finally {
    closeSync(fd);
  }
  const exited = await new Promise<number | null | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), settleMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.once("error", () => {
      clearTimeout(timer);
      resolve(-1);
    });
  });
  // Exit 3 is a campaign that ended by a limit (nothing to do): not a failure to start.
  if (exited !== undefined && exited !== 0 && exited !== 3) {
    const text = readFileSync(output, "utf8").trim().split("\n").slice(-5).join("\n");
    throw new EnvironmentStateError(`the detached run ended at once (exit ${exited}):\n${text}`, {
      hint: `Its output is in ${output}.`,
    });
  }
  child.unref();
  const pid = child.pid ?? -1;
  const campaign = await campaignOf(root, pid, waitMs);
  return { pid, output, logs, ...(campaign ? { campaign, log: path.join(logs, `${campaign}.log`) } : {}) };
}

/** The campaign the run `pid` started, once its campaign_start is in the event log (within `ms`). */
async function campaignOf(root: string, pid: number, ms: number): Promise<string | undefined> {
  const until = Date.now() + ms;
  for (;;) {
    const s = openCampaignState(root).status?.status;
    if (s && s.pid === pid) return s.campaign_id;
    if (Date.now() >= until || !isPidAlive(pid)) return undefined;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The options of `run` a detached run passes on (as `run` takes them). */
export interface RunOptions {
  maxCycles?: number;
  maxHours?: number;
  convergence?: number;
  goal?: string;
  focusTransformers?: string[];
  focusPatterns?: string[];
  /** false: `--no-llm`. */
  llm?: boolean;
  resume?: boolean;
  llmProvider?: string;
  llmModel?: string;
  maxAttempts?: number;
  llmBaseUrl?: string;
  workers?: number;
  verification?: string;
  queue?: string;
}

/** `run`'s command line for `opts` (each given option as its flag). */
export function runArgs(opts: RunOptions): string[] {
  const out: string[] = [];
  const flag = (name: string, v: string | number | string[] | undefined) => {
    if (v === undefined || (Array.isArray(v) && v.length === 0)) return;
    out.push(name, Array.isArray(v) ? v.join(",") : String(v));
  };
  flag("--max-cycles", opts.maxCycles);
  flag("--max-hours", opts.maxHours);
  flag("--convergence", opts.convergence);
  flag("--goal", opts.goal);
  flag("--focus-transformers", opts.focusTransformers);
  flag("--focus-patterns", opts.focusPatterns);
  if (opts.llm === false) out.push("--no-llm");
  if (opts.resume) out.push("--resume");
  flag("--llm-provider", opts.llmProvider);
  flag("--llm-model", opts.llmModel);
  flag("--max-attempts", opts.maxAttempts);
  flag("--llm-base-url", opts.llmBaseUrl);
  flag("--workers", opts.workers);
  flag("--verification", opts.verification);
  flag("--queue", opts.queue);
  return out;
}
