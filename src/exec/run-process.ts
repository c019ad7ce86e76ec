import { execa } from "execa";

/**
 * The one process runner. Every command the tool starts (gates, fixers, git, odibi) goes through here.
 *
 * Why not execa's own `timeout`: it kills only the direct child; a grandchild (pytest workers, a shell's
 * children) keeps the pipes open and the call hangs. We start every child in its own process group
 * (`detached`) and, on timeout or abort, kill the whole group: TERM, then KILL after a grace period. A process
 * that left the group (its own session, `setsid`) can still hold the pipes open: once the command itself has ended,
 * its output gets `DRAIN_MS` to close and is then cut, so no call outlives its command by more than that.
 */
export interface RunOptions {
  cwd: string;
  /** Extra environment variables (merged over process.env unless `extendEnv` is false). */
  env?: Record<string, string | undefined>;
  extendEnv?: boolean;
  /** Wall-clock limit; the process group is killed past it. Default: none. */
  timeoutMs?: number;
  /** Time between TERM and KILL. Default 3 s. */
  graceMs?: number;
  /** Bytes of stdout and of stderr kept (the tail). Default 4 MiB each. */
  maxOutputBytes?: number;
  input?: string;
  /** Abort from outside (stop request): kills the group like a timeout does. */
  signal?: AbortSignal;
}

export interface RunResult {
  file: string;
  args: string[];
  cwd: string;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Total bytes the process wrote, before capping. */
  stdoutBytes: number;
  stderrBytes: number;
  truncated: boolean;
  timedOut: boolean;
  aborted: boolean;
  /** The executable could not be started (ENOENT, EACCES). */
  spawnError?: string;
  durationMs: number;
}

/**
 * How a gate (or the brain's syntax check) starts a process. The default is `runProcess`; the jail (./jail.ts) supplies one that wraps the
 * command in bubblewrap. Gates never call execa/child_process directly.
 */
export type CommandRunner = (file: string, args: readonly string[], opts: RunOptions) => Promise<RunResult>;

export const DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024;
/** How long the output pipes may stay open after the command ended (held by a process that escaped its group). */
const DRAIN_MS = 2000;

export class TailBuffer {
  private chunks: Buffer[] = [];
  private kept = 0;
  total = 0;
  constructor(private readonly cap: number) {}
  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.kept += chunk.length;
    // Drop whole chunks while the rest still fills the cap, then trim the oldest one so
    // exactly `cap` bytes stay (whatever sizes the pipe delivered the output in).
    while (this.chunks.length > 1 && this.kept - this.chunks[0]!.length >= this.cap) {
      this.kept -= this.chunks.shift()!.length;
    }
    if (this.kept > this.cap) {
      const first = this.chunks[0]!;
      this.chunks[0] = first.subarray(this.kept - this.cap);
      this.kept = this.cap;
    }
  }
  get truncated(): boolean {
    return this.total > this.kept;
  }
  toString(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/**
 * Signals a process and everything it started. Windows has no process groups: `taskkill /T` walks the tree, and is
 * awaited. With `wait`, returns once the group is gone (up to 2 s), so nothing it started still holds files or a
 * port when the caller goes on.
 */
async function killGroup(pid: number | undefined, sig: NodeJS.Signals, wait = false): Promise<void> {
  if (pid === undefined) return;
  if (process.platform === "win32") {
    await execa("taskkill", ["/pid", String(pid), "/T", "/F"], { reject: false }).catch(() => {});
    return;
  }
  const signal = (s: NodeJS.Signals | 0) => {
    try {
      process.kill(-pid, s);
      return true;
    } catch {
      return false; // group already gone
    }
  };
  if (!signal(sig) || !wait) return;
  for (let waited = 0; waited < 2000 && signal(0); waited += 20) await new Promise((r) => setTimeout(r, 20));
}

export async function runProcess(
  file: string,
  args: readonly string[],
  opts: RunOptions,
): Promise<RunResult> {
  const cap = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const grace = opts.graceMs ?? 3000;
  const out = new TailBuffer(cap);
  const err = new TailBuffer(cap);
  const started = performance.now();
  let timedOut = false;
  let aborted = false;

  const child = execa(file, [...args], {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: opts.extendEnv ?? true,
    detached: process.platform !== "win32",
    buffer: false,
    reject: false,
    stdin: opts.input === undefined ? "ignore" : "pipe",
    stdout: "pipe",
    stderr: "pipe",
    windowsHide: true,
    cleanup: true,
  });
  child.stdout?.on("data", (c: Buffer) => out.push(c));
  child.stderr?.on("data", (c: Buffer) => err.push(c));
  if (opts.input !== undefined && child.stdin) {
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input);
  }

  let killTimer: NodeJS.Timeout | undefined;
  const terminate = () => {
    void killGroup(child.pid, "SIGTERM");
    killTimer = setTimeout(() => void killGroup(child.pid, "SIGKILL"), grace);
    killTimer.unref();
  };
  const timer =
    opts.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          terminate();
        }, opts.timeoutMs)
      : undefined;
  const onAbort = () => {
    aborted = true;
    terminate();
  };
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });

  let drainTimer: NodeJS.Timeout | undefined;
  child.once("exit", () => {
    drainTimer = setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, DRAIN_MS);
  });

  const result = await child;
  if (timer) clearTimeout(timer);
  if (killTimer) clearTimeout(killTimer);
  if (drainTimer) clearTimeout(drainTimer);
  opts.signal?.removeEventListener("abort", onAbort);
  // The leader is gone; make sure nothing it left in its group outlives the call.
  if (timedOut || aborted) await killGroup(child.pid, "SIGKILL", true);

  const spawnError =
    result.failed && result.exitCode === undefined && !result.signal && !timedOut && !aborted
      ? (result.originalMessage ?? result.message)
      : undefined;
  return {
    file,
    args: [...args],
    cwd: opts.cwd,
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    stdout: out.toString(),
    stderr: err.toString(),
    stdoutBytes: out.total,
    stderrBytes: err.total,
    truncated: out.truncated || err.truncated,
    timedOut,
    aborted,
    spawnError,
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * Split a configured command line into argv without a shell (portable: no shell-only syntax).
 * Whitespace separates words; '…' and "…" group (backslashes are kept as they are, for Windows paths).
 */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in command: ${line}`);
  if (inWord) words.push(cur);
  return words;
}

/** Run a configured command line (see splitCommandLine). */
export async function runCommandLine(line: string, opts: RunOptions): Promise<RunResult> {
  const [file, ...args] = splitCommandLine(line);
  if (!file) throw new Error("empty command");
  return runProcess(file, args, opts);
}

/** One line describing how a run ended, for logs and reports. */
export function describeEnd(r: RunResult): string {
  if (r.spawnError) return `could not start ${r.file}: ${r.spawnError}`;
  if (r.timedOut) return `timed out after ${r.durationMs} ms`;
  if (r.aborted) return "stopped";
  if (r.signal) return `killed by ${r.signal}`;
  return `exit ${r.exitCode}`;
}
