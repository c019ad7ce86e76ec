import { matchesAnyGlob } from "../paths.js";
import type { PolicyViolation, RuleInput } from "../types.js";
import { violation } from "../violation.js";

/**
 * Always protected, whatever the config says: CI, lock files, golden/harness configs, recorded snapshots, the tool's
 * own files. `policy.protected_paths` adds to these.
 */
export const DEFAULT_PROTECTED_PATHS: readonly string[] = [
  ".github/**",
  ".gitlab-ci.yml",
  ".gitlab/**",
  "azure-pipelines.yml",
  ".azure-pipelines/**",
  ".azuredevops/**",
  ".circleci/**",
  ".travis.yml",
  "Jenkinsfile",
  ".pre-commit-config.yaml",
  "*.lock",
  "package-lock.json",
  "npm-shrinkwrap.json",
  "pnpm-lock.yaml",
  "go.sum",
  "**/golden/**",
  "**/.odibi/**",
  "**/__snapshots__/**",
  "**/.odibi-improve/**",
  "odibi-improve.y{a,}ml",
  ".gitattributes",
];

export function protectedPathRule({ files, settings }: RuleInput): PolicyViolation[] {
  const globs = [...DEFAULT_PROTECTED_PATHS, ...settings.protected_paths];
  const out: PolicyViolation[] = [];
  for (const f of files) {
    for (const p of new Set([f.oldPath, f.path])) {
      const glob = matchesAnyGlob(p, globs);
      if (glob) {
        out.push(violation("protected-path", p, 0, `protected path ${f.status} (matches ${glob})`));
        break;
      }
    }
  }
  return out;
}
