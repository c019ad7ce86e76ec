/**
 * The promotion decision (DESIGN.md §3, §4): a pure function of the facts the gates recorded about a candidate.
 * judge-candidate.ts turns the gate verdict (`src/gates/verdict.ts`) and the configured policy into these facts.
 */

import type { DecisionWord } from "../core/types.js";
import type { CheckRef } from "../status/types.js";

export type { CheckRef };

export interface VerdictFacts {
  /** The candidate differs from Master (an empty diff is never promoted). */
  changed: boolean;
  /** Findings of the diff policy gate (test weakening, forbidden connectors, too large…). */
  policyViolations: string[];
  /** Gates that could not run on the candidate (tool missing, crash, timeout). */
  gateErrors: { gate: string; message: string }[];
  /** Failing checks of the candidate outside Master's baseline; flaky checks are already excluded. */
  newFailures: CheckRef[];
  /** Failures the candidate still has (all of them baseline ones): only matters in strict mode. */
  remainingFailures: number;
  /** Did the targeted failing check pass on the candidate? null when the task targets no check. */
  targetFixed: boolean | null;
  /** Gates the configuration requires (`gates.required`, src/config/required-gates.ts) that did not run on the candidate. */
  missingRequiredGates: string[];
  mode: "baseline" | "strict";
  /**
   * For a discovered-issue task (null otherwise): the issue's file, whether the diff touches it, and whether the
   * issue is gone on the candidate (candidate-checks.ts). "No new failure" alone never promotes such a task.
   */
  discoveredIssue: { file: string; touched: boolean; gone: boolean } | null;
  /**
   * For a new-feature task (`policy.allow_new_features`, null otherwise): whether the candidate adds tests. Such a
   * candidate is promoted only with its tests and with every gate passing, whatever the mode.
   */
  newFeature?: { testsAdded: boolean } | null;
}

export interface Decision {
  action: Extract<DecisionWord, "promoted" | "rejected">;
  /** One sentence for the report and the lesson. */
  reason: string;
  /** The gate that decided a rejection, for the lesson. */
  gate?: string;
}

const MAX_LISTED = 3;

function listChecks(checks: CheckRef[]): string {
  const shown = checks.slice(0, MAX_LISTED).map((c) => {
    const msg = c.message ? ` (${c.message.split("\n")[0]!.slice(0, 120)})` : "";
    return `${c.gate}:${c.id}${msg}`;
  });
  const more = checks.length > MAX_LISTED ? ` and ${checks.length - MAX_LISTED} more` : "";
  return `${shown.join("; ")}${more}`;
}

/** Rejects at the first reason, in the cascade's order (cheapest, most certain first); otherwise promotes. */
export function decide(f: VerdictFacts): Decision {
  if (!f.changed) return { action: "rejected", reason: "the candidate made no change" };
  if (f.policyViolations.length > 0) {
    return { action: "rejected", gate: "policy", reason: `policy: ${f.policyViolations.join("; ")}` };
  }
  const err = f.gateErrors[0];
  if (err) {
    return {
      action: "rejected",
      gate: err.gate,
      reason: `gate ${err.gate} could not run on the candidate: ${err.message}`,
    };
  }
  if (f.newFailures.length > 0) {
    const n = f.newFailures.length;
    return {
      action: "rejected",
      gate: f.newFailures[0]!.gate,
      reason: `introduced ${n} new failure${n === 1 ? "" : "s"}: ${listChecks(f.newFailures)}`,
    };
  }
  if (f.missingRequiredGates.length > 0) {
    return {
      action: "rejected",
      gate: f.missingRequiredGates[0],
      reason: `required gate${f.missingRequiredGates.length === 1 ? "" : "s"} did not run: ${f.missingRequiredGates.join(", ")}`,
    };
  }
  if (f.targetFixed === false) {
    return { action: "rejected", reason: "the targeted failure still fails" };
  }
  const issue = f.discoveredIssue;
  if (issue && !issue.touched) {
    return {
      action: "rejected",
      reason: `the diff does not touch ${issue.file}, where the discovered issue is`,
    };
  }
  if (issue && !issue.gone) {
    return { action: "rejected", reason: `the discovered issue is still in ${issue.file} on the candidate` };
  }
  if (f.newFeature && !f.newFeature.testsAdded) {
    return { action: "rejected", reason: "a new feature comes with its tests: the candidate adds none" };
  }
  if (f.newFeature && f.remainingFailures > 0) {
    return {
      action: "rejected",
      reason: `a new feature is promoted only when every gate passes: ${f.remainingFailures} check(s) still fail`,
    };
  }
  if (f.mode === "strict" && f.remainingFailures > 0) {
    return { action: "rejected", reason: `strict mode: ${f.remainingFailures} check(s) still fail` };
  }
  const why =
    f.targetFixed === true
      ? "fixes its target and introduces no new failure"
      : issue
        ? `removes the discovered issue in ${issue.file} and introduces no new failure`
        : f.newFeature
          ? "adds a new feature with its tests; every gate passes"
          : "introduces no new failure";
  return { action: "promoted", reason: `${why}; all required gates ran` };
}
