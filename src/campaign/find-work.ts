import type { UsageAnalysis } from "../analysis/usage-types.js";
import type { Check, GateResult, Task } from "../core/types.js";
import type { Finding } from "../harness/run.js";
import { failureSignature } from "../memory/signature.js";
import type { AvoidanceOracle } from "../memory/types.js";
import type { DiscoveredIssue } from "../profiles/python/discover.js";
import { usageTasks } from "./usage-work.js";

/**
 * What there is to work on (DESIGN.md §3), in this order: (1) a failing check of the gates or golden projects,
 * (2) a harness finding (`odibi-improve harness run`: a harness that fails or writes wrong output), (3) a failure
 * cluster of the usage analysis (`odibi-improve analyze`: odibi runs that failed the same way, most frequent first),
 * (4) an issue discovered in the code that is work (not marked `notWork` by discovery), (5) coverage gaps
 * (test-adding tasks), (6) with `policy.allow_new_features`, a new transformer the usage analysis suggests,
 * skipping every signature memory says to avoid. Checks and findings come first because a check proves their fix;
 * a usage cluster is seen failing in real runs, so it goes before what was only read in the code; new features come
 * last, when nothing is broken. Pure; plan-cycle.ts picks the cycle's task from it.
 */

export interface FindWorkOptions {
  /** Focus terms (`campaign.focus_transformers`, `focus_patterns`): within each tier, matching tasks come first. */
  focus?: readonly string[];
  /** What a failing check needs installed, when the environment (not the code) makes it fail: not work. */
  missingDependency?: (c: Check) => string | undefined;
  /**
   * Whether a file is one of the profile's oracle paths (tests, their configuration, checker configuration): a fix
   * task may not change those (`oracle-modified`), so a lint finding or a discovered issue located in one is not
   * work for a campaign — every candidate would be rejected. (A failing test is: its fix lies in the code it calls.)
   */
  inOracle?: (file: string) => boolean;
  /** The last harness run's findings (src/harness/run.ts). */
  harnessFindings?: readonly Finding[];
  /** Coverage gaps as test-adding tasks (kind `coverage`). */
  coverageTasks?: readonly Task[];
  /** The last usage analysis (reports/usage_analysis.json): its failure clusters and suggestions. */
  usage?: UsageAnalysis;
  /** `policy.allow_new_features`: a suggested transformer becomes a `feature` task (the last tier). */
  allowNewFeatures?: boolean;
}

/** A failing check the environment causes, and what it needs. */
export interface EnvironmentFailure {
  gate: Check["gate"];
  id: string;
  needs: string;
}

/** The failing checks that need something installed rather than a code change (see gates/missing-dependency.ts). */
export function environmentFailures(
  result: GateResult | null,
  missingDependency: (c: Check) => string | undefined,
): EnvironmentFailure[] {
  const out: EnvironmentFailure[] = [];
  for (const c of result?.runs.flatMap((r) => r.checks) ?? []) {
    const needs = c.status === "fail" ? missingDependency(c) : undefined;
    if (needs) out.push({ gate: c.gate, id: c.id, needs });
  }
  return out;
}

const MAX_TITLE_MESSAGE = 120;
const MAX_DETAIL = 4000;

function firstLine(s: string | undefined): string {
  return (s ?? "").split("\n")[0]!.trim().slice(0, MAX_TITLE_MESSAGE);
}

export function checkSignature(c: Pick<Check, "gate" | "id" | "errorType" | "message">): string {
  return failureSignature({ gate: c.gate, checkId: c.id, errorType: c.errorType, message: c.message });
}

/** `golden:<project>/<pipeline>/<node>` → its project; undefined for other ids (project, pipeline, `#inputs`). */
function goldenNodeProject(c: Check): string | undefined {
  if (c.gate !== "golden") return undefined;
  const parts = c.id.replace(/^golden:/, "").split("/");
  return parts.length === 3 ? parts[0] : undefined;
}

/**
 * A golden project's run (`golden:<project>`) or pipeline (`golden:<project>/<pipeline>`) failing because one of its
 * nodes failed: the node's check carries odibi's error, so it is the task and these are not.
 */
function explainedByGoldenNode(c: Check, failingNodeProjects: Set<string>): boolean {
  if (c.gate !== "golden" || goldenNodeProject(c) !== undefined || c.id.includes("#")) return false;
  return failingNodeProjects.has(c.id.replace(/^golden:/, "").split("/")[0]!);
}

/**
 * Failing checks as tasks, in the gate result's order (the cascade's order). Flaky and skipped checks are not work,
 * nor failures that need a dependency installed (`missingDependency`), nor lint findings in oracle paths (`inOracle`),
 * nor a golden project's or pipeline's failure when one of its nodes fails (the node is the task).
 */
export function failureTasks(
  result: GateResult | null,
  missingDependency?: (c: Check) => string | undefined,
  inOracle?: (file: string) => boolean,
): Task[] {
  if (!result) return [];
  const tasks: Task[] = [];
  const failingNodeProjects = new Set(
    result.runs.flatMap((r) =>
      r.checks.filter((c) => c.status === "fail").flatMap((c) => goldenNodeProject(c) ?? []),
    ),
  );
  for (const run of result.runs) {
    for (const c of run.checks) {
      if (c.status !== "fail" || missingDependency?.(c)) continue;
      if (explainedByGoldenNode(c, failingNodeProjects)) continue;
      if (c.gate === "lint" && c.file !== undefined && inOracle?.(c.file)) continue;
      const msg = firstLine(c.message);
      const detail = [c.message, c.detail].filter(Boolean).join("\n").slice(0, MAX_DETAIL);
      tasks.push({
        kind: "failure",
        target: c.id,
        title: `${c.gate} failure ${c.id}${msg ? `: ${msg}` : ""}`,
        signature: checkSignature(c),
        gate: c.gate,
        ...(c.file === undefined ? {} : { file: c.file }),
        ...(c.line === undefined ? {} : { line: c.line }),
        ...(detail ? { detail } : {}),
        ...(c.autofix === undefined ? {} : { autofix: c.autofix }),
      });
    }
  }
  return tasks;
}

export function discoveredTask(d: DiscoveredIssue): Task {
  const exercised = d.evidence?.length ? `\n\nExercised by: ${d.evidence.join(", ")}` : "";
  return {
    kind: "discovered",
    target: `${d.file}:${d.line}`,
    title: d.title,
    signature: d.signature,
    file: d.file,
    line: d.line,
    detail: `${d.context}${exercised}`,
  };
}

/** The check id a harness task targets → its harness (`golden:<h>/…`, `validate:<h>…`, `harness:<h>/…`). */
export function harnessOfTarget(target: string): string | undefined {
  return target.match(/^(?:golden|validate|harness):([^/:#]+)/)?.[1];
}

export function harnessTask(f: Finding): Task {
  const msg = firstLine(f.message);
  const detail = [
    `${f.errorType}: ${f.message}`,
    f.detail,
    `The harness ${f.harness} (${f.kind} ${f.subject}) is in ${f.dir}. The smallest config that shows it:`,
    f.config,
  ]
    .filter(Boolean)
    .join("\n\n");
  return {
    kind: "harness",
    target: f.checkId,
    title: `harness finding ${f.checkId}${msg ? `: ${msg}` : ""}`,
    signature: f.signature,
    gate: "golden",
    detail: detail.slice(0, MAX_DETAIL * 2),
  };
}

function focusFirst(tasks: Task[], focus: readonly string[] | undefined): Task[] {
  const terms = (focus ?? []).map((t) => t.trim().toLowerCase()).filter(Boolean);
  if (terms.length === 0) return tasks;
  const hit = (t: Task) =>
    terms.some((term) => [t.target, t.title, t.file ?? ""].some((s) => s.toLowerCase().includes(term)));
  return [...tasks.filter(hit), ...tasks.filter((t) => !hit(t))];
}

/** Every task there is, in priority order, without avoided signatures or duplicates. */
export function listWork(
  gateResult: GateResult | null,
  discovered: readonly DiscoveredIssue[],
  memory: AvoidanceOracle,
  opts: FindWorkOptions = {},
): Task[] {
  const seen = new Set<string>();
  const keep = (t: Task) => {
    if (seen.has(t.signature) || memory.shouldAvoid(t.signature)) return false;
    seen.add(t.signature);
    return true;
  };
  const usage = usageTasks(opts.usage, opts.allowNewFeatures ?? false);
  return [
    ...focusFirst(failureTasks(gateResult, opts.missingDependency, opts.inOracle), opts.focus),
    ...focusFirst((opts.harnessFindings ?? []).map(harnessTask), opts.focus),
    ...focusFirst(usage.fixes, opts.focus),
    ...focusFirst(
      discovered.filter((d) => !d.notWork && !opts.inOracle?.(d.file)).map(discoveredTask),
      opts.focus,
    ),
    ...focusFirst([...(opts.coverageTasks ?? [])], opts.focus),
    ...focusFirst(usage.features, opts.focus),
  ].filter(keep);
}
