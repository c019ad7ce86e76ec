import type { UsageAnalysis } from "../analysis/usage-types.js";
import type { FixerApproach } from "../brain/fixers.js";
import type { Check, GateResult, Task } from "../core/types.js";
import type { Finding } from "../harness/run.js";
import type { AvoidanceOracle } from "../memory/types.js";
import type { DiscoveredIssue } from "../profiles/python/discover.js";
import { type EnvironmentFailure, environmentFailures, listWork } from "./find-work.js";

export type Approach = FixerApproach | { kind: "llm"; name: string };

export const approachId = (a: Pick<Approach, "kind" | "name">) => `${a.kind}:${a.name}`;

/** What a cycle knows once Master's gates ran and discovery read its code. */
export interface CycleFacts {
  baseline: GateResult;
  discovered: readonly DiscoveredIssue[];
  /** Memory: the signatures given up on, and the approaches that failed on a signature (`kind:name`). */
  memory: AvoidanceOracle & { failedApproaches(signature: string): string[] };
  /** The deterministic fixers for a task. */
  fixers(task: Task): FixerApproach[];
  /** The campaign's LLM, when it has one. */
  llm?: string;
  focus?: readonly string[];
  inOracle?: (file: string) => boolean;
  /** What a failing check needs installed, when the environment (not the code) makes it fail. */
  missingDependency?: (c: Check) => string | undefined;
  /** The last harness run's findings (`odibi-improve harness run`). */
  harnessFindings?: readonly Finding[];
  /** Coverage gaps as test-adding tasks (coverage-work.ts): the last tier. */
  coverageTasks?: readonly Task[];
  /** The last usage analysis (`odibi-improve analyze`). */
  usage?: UsageAnalysis;
  /** `policy.allow_new_features`: suggested transformers are work. */
  allowNewFeatures?: boolean;
}

export interface CyclePlan {
  /** The task and the approaches still to try on it (none when all are spent: it gets avoided), or null. */
  pick: { task: Task; approaches: Approach[] } | null;
  /** Why there is no task (for the report), when `pick` is null. */
  reason?: string;
  /** Open items, avoided ones left out. */
  open: number;
  /** Anything fails or was discovered that a code change could fix, avoided or not (the NO_WORK stop). */
  foundWork: boolean;
  environmentFailures: EnvironmentFailure[];
  /** Open items no approach of this campaign can take (no fixer, no LLM): left for a model or a human. */
  waiting: Task[];
}

export function possibleApproaches(f: Pick<CycleFacts, "fixers" | "llm">, task: Task): Approach[] {
  return [...f.fixers(task), ...(f.llm ? [{ kind: "llm" as const, name: f.llm }] : [])];
}

/** The approaches not yet spent on the task's signature: an LLM may be retried (each attempt differs); a fixer not. */
export function approachesLeft(f: Pick<CycleFacts, "fixers" | "llm" | "memory">, task: Task): Approach[] {
  const failed = new Set(f.memory.failedApproaches(task.signature));
  return possibleApproaches(f, task).filter((a) => a.kind === "llm" || !failed.has(approachId(a)));
}

function noTaskReason(open: number, foundWork: boolean, env: EnvironmentFailure[], llm: boolean): string {
  if (!foundWork) {
    if (!env.length) return "nothing to work on: every gate is green and no issue was discovered";
    const needs = [...new Set(env.map((e) => e.needs))].slice(0, 3).join(", ");
    return `nothing to work on: the ${env.length} failing check(s) left need dependencies the environment lacks (${needs}), not code changes`;
  }
  if (open === 0) return "every open item is avoided (all its approaches failed): nothing left to try";
  return `${open} open item(s) need an LLM${llm ? "" : " (configure one: `llm:` in config.yaml or --llm-provider)"}`;
}

/**
 * The cycle's task (pure): the first open item, in find-work's priority order and without avoided signatures, that
 * has an approach at all (one needing an LLM the campaign lacks is not work for it). "No work" means nothing fails
 * that a code change could fix and nothing was discovered; avoided items still count as work (convergence stops
 * those campaigns), failures that need a dependency installed do not.
 */
export function planCycle(f: CycleFacts): CyclePlan {
  const opts = {
    focus: f.focus ?? [],
    ...(f.inOracle ? { inOracle: f.inOracle } : {}),
    ...(f.missingDependency ? { missingDependency: f.missingDependency } : {}),
    ...(f.harnessFindings ? { harnessFindings: f.harnessFindings } : {}),
    ...(f.coverageTasks ? { coverageTasks: f.coverageTasks } : {}),
    ...(f.usage ? { usage: f.usage } : {}),
    allowNewFeatures: f.allowNewFeatures ?? false,
  };
  const open = listWork(f.baseline, f.discovered, f.memory, opts);
  const foundWork = listWork(f.baseline, f.discovered, { shouldAvoid: () => false }, opts).length > 0;
  const env = f.missingDependency ? environmentFailures(f.baseline, f.missingDependency) : [];
  const task = open.find((t) => possibleApproaches(f, t).length > 0);
  const waiting = open.filter((t) => possibleApproaches(f, t).length === 0);
  const base = { open: open.length, foundWork, environmentFailures: env, waiting };
  if (!task)
    return { ...base, pick: null, reason: noTaskReason(open.length, foundWork, env, f.llm !== undefined) };
  return { ...base, pick: { task, approaches: approachesLeft(f, task) } };
}
