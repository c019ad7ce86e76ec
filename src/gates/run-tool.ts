import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { errorMessage } from "../core/errors.js";
import type { Check, GateName, GateRun } from "../core/types.js";
import { readRegularFile } from "../exec/read-regular-file.js";
import { describeEnd, splitCommandLine } from "../exec/run-process.js";
import type { GateContext } from "./gate.js";
import { crashCheck, inconsistentCheck } from "./parsers/common.js";
import { adapterFor, type ToolAdapter } from "./tools.js";

export interface ToolRunOptions {
  only?: string[];
  files?: string[];
  /** pytest-xdist's `-n` (tools that cannot run in parallel ignore it). */
  workers?: string;
}

function tail(text: string, lines = 30): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/**
 * Run one configured tool command for a gate and turn what it wrote into checks. A tool that could not start,
 * timed out or crashed becomes a failing `<tool>:crash` check and the run's `error`: never a pass. A result whose
 * channels disagree (exit code, report, the tool's own summary, a separate count; a report that is not a regular
 * file or is missing) becomes a failing `<tool>:report-inconsistent` check and the run's `error`.
 */
export async function runToolCommand(
  ctx: GateContext,
  gate: GateName,
  commandLine: string,
  opts: ToolRunOptions = {},
): Promise<GateRun> {
  const started = performance.now();
  const configured = splitCommandLine(commandLine);
  const adapter = adapterFor(configured);
  mkdirSync(ctx.outputDir, { recursive: true });
  const selection = {
    only: adapter.selects ? opts.only : undefined,
    files: adapter.selects ? opts.files : undefined,
  };
  const prepared = adapter.prepare(configured, {
    outputDir: ctx.outputDir,
    runId: `${gate}-${adapter.tool}-${randomUUID()}`,
    ...selection,
    ...(opts.workers ? { workers: opts.workers } : {}),
  });
  const [file, ...args] = prepared.argv;
  // The user's command and what it was narrowed to (the report/format flags the adapter adds are noise here).
  const picked = adapter.selects ? (opts.only?.length ? opts.only : opts.files) : undefined;
  const narrowed = picked?.length
    ? ` [only ${picked.slice(0, 2).join(" ")}${picked.length > 2 ? ` +${picked.length - 2}` : ""}]`
    : "";
  ctx.log?.(`[${gate}] ${commandLine}${narrowed}${opts.workers ? ` [-n ${opts.workers}]` : ""}`);
  /** The separate counting run's output (undefined when it gave none), or "stopped". */
  const collect = async (argv: string[]): Promise<string | undefined | "stopped"> => {
    const c = await ctx.workspace.exec(argv[0]!, argv.slice(1), {
      cwd: ctx.workdir,
      env: ctx.env,
      timeoutMs: ctx.timeoutMs,
      signal: ctx.signal,
    });
    if (c.aborted) return "stopped";
    return c.spawnError || c.timedOut ? undefined : c.stdout;
  };
  const r = await ctx.workspace.exec(file!, args, {
    cwd: ctx.workdir,
    env: ctx.env,
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
  });
  const pctx = { gate, workdir: ctx.workdir };
  const checks: Check[] = [];
  let error: string | undefined;
  const crash = (message: string, detail?: string) => {
    error = message;
    checks.push(crashCheck(pctx, adapter.tool, message, detail));
  };
  const inconsistent = (message: string) => {
    error ??= message;
    checks.push(inconsistentCheck(pctx, adapter.tool, message, tail(`${r.stdout}\n${r.stderr}`)));
  };

  if (r.spawnError) crash(`could not start ${file}: ${r.spawnError}`);
  else if (r.timedOut) {
    crash(
      `${commandLine}: timed out after ${Math.round((ctx.timeoutMs ?? 0) / 1000)}s`,
      tail(r.stdout + r.stderr),
    );
    checks[checks.length - 1]!.errorType = "GateTimeout";
  } else if (r.aborted) crash(`${commandLine}: stopped`);
  else {
    // The report lies in a folder the jailed command can write: it is candidate bytes (see read-regular-file.ts).
    const read = prepared.reportFile ? readRegularFile(prepared.reportFile) : undefined;
    const report = read?.kind === "text" ? read.text : undefined;
    if (read?.kind === "refused")
      inconsistent(`the report ${path.basename(prepared.reportFile!)} is ${read.why}: it cannot be trusted`);
    else if (read?.kind === "absent" && adapter.okExit(r.exitCode))
      inconsistent(`${adapter.tool} ended with ${describeEnd(r)} but its report was not there`);
    const toolOutput = { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, report };
    try {
      checks.push(...adapter.parse(toolOutput, pctx));
    } catch (e) {
      crash(
        `${adapter.tool} output could not be read (${describeEnd(r)}): ${errorMessage(e)}`,
        tail(`${r.stdout}\n${r.stderr}`),
      );
    }
    const failing = checks.some((c) => c.status === "fail");
    if (error === undefined && !adapter.okExit(r.exitCode))
      crash(`${adapter.tool} did not complete (${describeEnd(r)})`, tail(`${r.stdout}\n${r.stderr}`));
    else if (error === undefined) {
      // The exit code, the report, the terminal summary and a separate count must tell the same story.
      const disagreements: string[] = [];
      if (r.exitCode !== 0 && !failing)
        disagreements.push(`${adapter.tool} failed (${describeEnd(r)}) but reported no failing check`);
      if (r.exitCode === 0 && failing && prepared.reportFile)
        disagreements.push(`${adapter.tool} exited 0 but its report has failing checks`);
      if (adapter.disagreements) {
        // The separate count runs after the run, never alongside it: two processes of the candidate's code on one
        // tree at once could race each other (one plants, the other reads), and the hostile suites see a different
        // first run.
        const collected = adapter.collectArgv
          ? await collect(
              adapter.collectArgv(configured, { ...selection, outputDir: ctx.outputDir, runId: "" }),
            )
          : undefined;
        if (collected === "stopped") crash(`${commandLine}: stopped`);
        else disagreements.push(...adapter.disagreements(toolOutput, checks, collected));
      }
      if (error === undefined) for (const d of disagreements) inconsistent(d);
    }
    if (checks.length === 0) checks.push({ gate, id: adapter.tool, status: "pass", message: describeEnd(r) });
  }
  return {
    gate,
    command: commandLine,
    checks,
    durationMs: Math.round(performance.now() - started),
    ...(error === undefined ? {} : { error }),
  };
}

export function toolOf(commandLine: string): ToolAdapter {
  return adapterFor(splitCommandLine(commandLine));
}

const versionMemo = new Map<string, Promise<string>>();

/**
 * The version line of the tool a command line runs (for the cache key), asked once per process and PATH.
 * A tool that cannot say its version yields "unknown" (the command line is still part of the key).
 */
export function toolVersion(ctx: GateContext, commandLine: string): Promise<string> {
  const argv = toolOf(commandLine).versionArgv(splitCommandLine(commandLine));
  const key = JSON.stringify([argv, ctx.env.PATH ?? ctx.env.Path ?? process.env.PATH, ctx.env.VIRTUAL_ENV]);
  let v = versionMemo.get(key);
  if (!v) {
    v = ctx.workspace
      .exec(argv[0]!, argv.slice(1), { cwd: ctx.workdir, env: ctx.env, timeoutMs: 60_000 })
      .then((r) =>
        r.exitCode === 0 ? (`${r.stdout}${r.stderr}`.trim().split("\n")[0] ?? "unknown") : "unknown",
      );
    versionMemo.set(key, v);
  }
  return v;
}
