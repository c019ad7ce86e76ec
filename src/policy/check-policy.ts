import type { Config } from "../config/schema.js";
import type { Check } from "../core/types.js";
import { parseGitDiff } from "./diff.js";
import { oracleGlobs } from "./oracle.js";
import { forbiddenConnectionRule } from "./rules/forbidden-connections.js";
import { binaryFileRule, outsideRepoRule, sizeLimitRule } from "./rules/limits.js";
import { newFeatureRule } from "./rules/new-features.js";
import { importPathChangedRule, oracleModifiedRule, suppressionAddedRule } from "./rules/oracle.js";
import { protectedPathRule } from "./rules/protected-paths.js";
import { testsOnlyRule } from "./rules/tests-only.js";
import {
  assertWeakenedRule,
  collectionNarrowedRule,
  testDeletedRule,
  testSkippedRule,
} from "./rules/tests-weakened.js";
import { unsafeGitPathRule } from "./rules/unsafe-git.js";
import {
  type ChangedFile,
  type FileReaders,
  POLICY_RULES,
  type PolicyOptions,
  type PolicyRule,
  type PolicyRuleFn,
  type PolicySettings,
  type PolicyViolation,
} from "./types.js";

/** The rules judged from a diff (`ignored-path` is not: see POLICY_RULES). */
export const RULES: Record<Exclude<PolicyRule, "ignored-path">, PolicyRuleFn> = {
  "test-deleted": testDeletedRule,
  "test-skipped": testSkippedRule,
  "assert-weakened": assertWeakenedRule,
  "collection-narrowed": collectionNarrowedRule,
  "protected-path": protectedPathRule,
  "forbidden-connection": forbiddenConnectionRule,
  "new-feature": newFeatureRule,
  "size-limit": sizeLimitRule,
  "binary-file": binaryFileRule,
  "outside-repo": outsideRepoRule,
  "unsafe-git-path": unsafeGitPathRule,
  "oracle-modified": oracleModifiedRule,
  "suppression-added": suppressionAddedRule,
  "import-path-changed": importPathChangedRule,
  "tests-only": testsOnlyRule,
};

function settingsOf(config: Config | PolicySettings): PolicySettings {
  return "policy" in config ? config.policy : config;
}

/** Every violation of every rule, in rule order. Pure. */
export function evaluatePolicy(
  diff: string | ChangedFile[],
  config: Config | PolicySettings,
  readers?: FileReaders,
  opts: PolicyOptions = {},
): PolicyViolation[] {
  const files = typeof diff === "string" ? parseGitDiff(diff) : diff;
  const oracle = oracleGlobs("profile" in config ? config.profile : undefined);
  const input = { files, settings: settingsOf(config), readers, oracle, ...opts };
  return POLICY_RULES.flatMap((rule) => (rule === "ignored-path" ? [] : RULES[rule](input)));
}

const MESSAGE_CAP = 400;

export function violationToCheck(v: PolicyViolation): Check {
  const shown = v.lines.length ? `: ${v.lines.map((l) => l.trim()).join(" | ")}` : "";
  const wholeDiff = v.file.startsWith("(");
  const where = wholeDiff ? "" : ` in ${v.file}${v.line ? `:${v.line}` : ""}`;
  const message = `[${v.rule}] ${v.message}${where}${shown}`;
  return {
    gate: "policy",
    id: `policy:${v.rule}:${v.file}:${v.line}`,
    status: "fail",
    message: message.length > MESSAGE_CAP ? `${message.slice(0, MESSAGE_CAP - 1)}…` : message,
    errorType: v.rule,
    file: wholeDiff ? undefined : v.file,
    line: v.line || undefined,
    detail: v.lines.length ? v.lines.join("\n") : undefined,
  };
}

/**
 * The policy gate, first and cheapest in the cascade: the candidate's diff against Master (git `diff --binary`)
 * in, one failing check per violation out (none = the diff is acceptable). `readers` give whole files (base and
 * candidate) where a rule needs them (assert counts per test, pytest config sections, registrations); without
 * them the rules judge from the diff alone. `opts.addTestsOnly`: a test-adding task (only new test files). Pure.
 */
export function checkPolicy(
  diff: string | ChangedFile[],
  config: Config | PolicySettings,
  readers?: FileReaders,
  opts: PolicyOptions = {},
): Check[] {
  const checks = new Map<string, Check>();
  for (const v of evaluatePolicy(diff, config, readers, opts)) {
    const c = violationToCheck(v);
    const prior = checks.get(c.id);
    if (prior) prior.detail = [prior.detail, c.detail].filter(Boolean).join("\n");
    else checks.set(c.id, c);
  }
  return [...checks.values()];
}

/** The rule a policy check failed on (for memory records and reports), or undefined for other gates' checks. */
export function policyRuleOf(check: Pick<Check, "gate" | "errorType">): PolicyRule | undefined {
  return check.gate === "policy" && (POLICY_RULES as readonly string[]).includes(check.errorType ?? "")
    ? (check.errorType as PolicyRule)
    : undefined;
}
