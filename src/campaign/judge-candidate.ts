import type { GateResult, Task } from "../core/types.js";
import { decideVerdict, type GateVerdict } from "../gates/verdict.js";
import { type Decision, decide, type VerdictFacts } from "./decide.js";

/** The configuration's gate policy (`gates:` in config.yaml). */
export interface GatePolicy {
  mode: "baseline" | "strict";
  require_ruff_clean?: boolean;
  require_pytest_pass?: boolean;
  require_odibi_validate?: boolean;
  require_golden_projects?: boolean;
}

export interface CandidateFacts {
  baseline: GateResult;
  candidate: GateResult;
  task: Task;
  policy: GatePolicy;
  /** The candidate differs from Master. */
  changed: boolean;
  discoveredIssue: VerdictFacts["discoveredIssue"];
}

/** Gates the policy requires to have run on a candidate. */
function requiredGates(p: GatePolicy): Set<string> {
  const required = new Set<string>();
  if (p.require_ruff_clean) required.add("lint");
  if (p.require_pytest_pass) required.add("tests");
  if (p.require_odibi_validate) required.add("validate");
  if (p.require_golden_projects) required.add("golden");
  return required;
}

/**
 * Promote or reject a candidate (pure): the gate verdict against Master's baseline (`decideVerdict`), turned into the
 * facts `decide` weighs — policy findings, gates that could not run, new failures outside the policy gate, required
 * gates not run, the target, a discovered issue.
 */
export function judgeCandidate(f: CandidateFacts): { verdict: GateVerdict; decision: Decision } {
  const target = f.task.kind === "failure" ? f.task : undefined;
  const verdict = decideVerdict(f.baseline, f.candidate, target, f.policy.mode);
  const policyRun = f.candidate.runs.find((r) => r.gate === "policy");
  const required = requiredGates(f.policy);
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
    targetFixed: verdict.targetFixed ?? null,
    missingRequiredGates: verdict.notRun.filter((n) => required.has(n)),
    mode: f.policy.mode,
    discoveredIssue: f.discoveredIssue,
  };
  return { verdict, decision: decide(facts) };
}
