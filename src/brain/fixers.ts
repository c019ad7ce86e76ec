import type { Task } from "../core/types.js";
import { describeEnd, splitCommandLine } from "../exec/run-process.js";
import type { GateContext } from "../gates/gate.js";

/**
 * Deterministic fixers: the brain that needs no LLM. Each is an approach with a stable name (memory records it, so
 * an approach that failed on a signature is not tried again). Their candidates go through the same policy, gates
 * and promotion as any other.
 */
export interface FixerApproach {
  kind: "fixer";
  /** Stable across runs: what memory keys the approach by. */
  name: string;
  /** The command lines it runs, in the sandbox. */
  commands: string[][];
}

/** The lint rule of a lint task: ruff check ids are `RULE:file:line:col`. */
export function lintRule(task: Task): string | undefined {
  if (task.gate !== "lint") return undefined;
  const rule = task.target.split(":")[0];
  return rule && /^[A-Z]+[0-9]+$/.test(rule) ? rule : undefined;
}

function usesRuff(ctx: Pick<GateContext, "commands">): boolean {
  return /\bruff\b/.test(ctx.commands.lint ?? "");
}

/**
 * How the configured command runs ruff: bare `ruff` (odibi: the repository's pinned ruff, first on PATH) or through
 * the venv's python (`python -m ruff`).
 */
function ruffProgram(line: string | undefined): string[] {
  const argv = splitCommandLine(line ?? "");
  const i = argv.findIndex((a) => /^ruff(\.exe)?$/i.test(a.split(/[\\/]/).pop() ?? ""));
  return i >= 0 ? argv.slice(0, i + 1) : ["python", "-m", "ruff"];
}

/** The fixers that may help with a task, best first. */
export function fixersFor(task: Task, ctx: Pick<GateContext, "commands">): FixerApproach[] {
  if (task.kind !== "failure") return []; // discovered issues and coverage gaps need judgement (an LLM)
  const out: FixerApproach[] = [];
  const rule = lintRule(task);
  if (
    task.gate === "lint" &&
    task.target.startsWith("format:") &&
    task.file &&
    /\bruff\b/.test(ctx.commands.format_check ?? "")
  ) {
    // A file `ruff format --check` would reformat: `ruff format` on that file, with the same ruff.
    out.push({
      kind: "fixer",
      name: "ruff-format",
      commands: [[...ruffProgram(ctx.commands.format_check), "format", "--", task.file]],
    });
    return out;
  }
  if (rule && task.file && usesRuff(ctx)) {
    // ruff said it has no safe fix for this one: no fixer will do it (an LLM may).
    if (task.autofix === false) return out;
    // One rule in one file per cycle: small, reviewable promotions.
    out.push({
      kind: "fixer",
      name: `ruff-fix:${rule}`,
      commands: [[...ruffProgram(ctx.commands.lint), "check", "--fix", "--select", rule, "--", task.file]],
    });
    return out;
  }
  for (const line of ctx.commands.fix ?? []) {
    out.push({ kind: "fixer", name: `fix:${line}`, commands: [splitCommandLine(line)] });
  }
  return out;
}

/** Runs a fixer's commands in the sandbox (through the context's workspace: jailed when isolation is on). */
export async function runFixer(
  fixer: FixerApproach,
  ctx: GateContext,
): Promise<{ ok: boolean; log: string }> {
  const logs: string[] = [];
  for (const [file, ...args] of fixer.commands) {
    if (!file) continue;
    const r = await ctx.workspace.exec(file, args, {
      cwd: ctx.workdir,
      env: ctx.env,
      timeoutMs: ctx.timeoutMs,
      signal: ctx.signal,
    });
    logs.push(`$ ${[file, ...args].join(" ")}\n${describeEnd(r)}\n${(r.stdout + r.stderr).slice(-2000)}`);
    if (r.spawnError || r.timedOut || r.aborted) return { ok: false, log: logs.join("\n") };
  }
  return { ok: true, log: logs.join("\n") };
}
