import { type RequiredGatesConfig, requiredGateNames } from "../config/required-gates.js";
import type { Config } from "../config/schema.js";
import type { GateResult, Task } from "../core/types.js";
import type { GateTraits } from "../gates/gate.js";
import { decideVerdict, type GateVerdict } from "../gates/verdict.js";
import { type Decision, decide, type VerdictFacts } from "./decide.js";

/** The configuration's gate policy (`gates:` in config.yaml): the mode and which gates are required. */
export type GatePolicy = Pick<Config["gates"], "mode"> & RequiredGatesConfig;

export interface CandidateFacts {
  baseline: GateResult;
  candidate: GateResult;
  task: Task;
  policy: GatePolicy;
  /** The profile's gates (`profileOf(config.profile).gates`). */
  gates: readonly GateTraits[];
  /** The candidate differs from Master. */
  changed: boolean;
  discoveredIssue: VerdictFacts["discoveredIssue"];
  /** For a harness task: does the finding's check pass when the harness runs on the candidate? */
  harnessFixed?: boolean;
  /** For a new-feature task (kind `feature`): does the candidate add test files? null for other tasks. */
  newFeature?: VerdictFacts["newFeature"];
  /**
   * Only the targeted step ran (batch verification: the promotion queue's full run judges it again): gates that
   * did not run fully are not held against it.
   */
  targetedOnly?: boolean;
}

/**
 * Promote or reject a candidate (pure): the gate verdict against Master's baseline (`decideVerdict`), turned into the
 * facts `decide` weighs — policy findings, gates that could not run, new failures outside the policy gate, required
 * gates not run, the target, a discovered issue.
 */
export function judgeCandidate(f: CandidateFacts): { verdict: GateVerdict; decision: Decision } {
  const target = f.task.kind === "failure" ? f.task : undefined;
  const verdict = decideVerdict(f.baseline, f.candidate, { gates: f.gates, target, mode: f.policy.mode });
  const policyRun = f.candidate.runs.find((r) => r.gate === "policy");
  const required = requiredGateNames(f.policy, f.gates);
  const facts: VerdictFacts = {
    changed: f.changed,
    policyViolations: (policyRun?.checks ?? [])
      .filter((c) => c.status === "fail")
      .map((c) => c.message ?? c.id),
    gateErrors: f.candidate.runs.filter((r) => r.error).map((r) => ({ gate: r.gate, message: r.error! })),
    newFailures: verdict.newFailures
      .filter((c) => c.gate !== "policy")
      .map((c) => ({ gate: c.gate, id: c.id, ...(c.message ? { message: c.message } : {}) })),
    remainingFailures: verdict.stillFailing.length,
    targetFixed: f.harnessFixed ?? verdict.targetFixed ?? null,
    missingRequiredGates: f.targetedOnly ? [] : verdict.notRun.filter((n) => required.has(n)),
    mode: f.policy.mode,
    discoveredIssue: f.discoveredIssue,
    newFeature: f.newFeature ?? null,
  };
  return { verdict, decision: decide(facts) };
}
