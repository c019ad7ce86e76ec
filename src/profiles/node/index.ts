import { existsSync } from "node:fs";
import path from "node:path";
import { readTextIf } from "../../environment/fs-safe.js";
import { ensureNodeDependencies } from "../../environment/node-deps.js";
import { buildGateEnv } from "../../gates/env.js";
import { lintGate } from "../../gates/lint-gate.js";
import { nodeMissingDependencies } from "../../gates/missing-dependency.js";
import { testsGate } from "../../gates/tests-gate.js";
import { COMMON_ORACLE, NODE_ORACLE } from "../oracle-paths.js";
import type { Profile } from "../profile.js";

/**
 * `npm test` runs package.json's test script, and the gate sees one pass/fail for all of it. When that script
 * is plainly `node --test …` or `vitest …` (no shell syntax, no quotes, no pretest/posttest script), the gate runs
 * it directly instead, and gets one check per test (re-runs by name, flakes, targeted tests). Read only.
 */
export function nodeTestCommand(repo: string): string | undefined {
  let scripts: Record<string, unknown>;
  try {
    const pkg = JSON.parse(readTextIf(path.join(repo, "package.json")) ?? "{}") as { scripts?: unknown };
    if (!pkg.scripts || typeof pkg.scripts !== "object") return undefined;
    scripts = pkg.scripts as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const script = scripts.test;
  if (typeof script !== "string" || scripts.pretest !== undefined || scripts.posttest !== undefined)
    return undefined;
  if (/[;&|<>`$()\\"'*?\n]/.test(script)) return undefined;
  const words = script.trim().split(/\s+/);
  if (words[0] === "node" && words.includes("--test")) return words.join(" ");
  if (words[0] === "vitest") return `npx --no-install ${words.join(" ")}`;
  return undefined;
}

/**
 * Node: the repository's own test runner when `nodeTestCommand` recognises it (else `npm test`), biome; its
 * packages installed under the root (`<root>/node_modules`) with npm.
 */
export const nodeProfile: Profile = {
  name: "node",
  description: "Node: npm test, biome or eslint",
  doctor: [
    {
      name: "npm",
      file: "npm",
      args: ["--version"],
      install:
        "install npm (it comes with Node.js; Debian: apt-get install npm): a repository's packages are installed with it",
    },
  ],
  detect: (repo) => existsSync(path.join(repo, "package.json")),
  commands: (repo) => ({
    test: (repo === undefined ? undefined : nodeTestCommand(repo)) ?? "npm test",
    lint: "npx --no-install biome check .",
    fix: ["npx --no-install biome check --write ."],
  }),
  gates: [lintGate, testsGate],
  gateEnv: ({ venv }) => buildGateEnv({ venv }),
  missingDependencies: nodeMissingDependencies,
  oracle: [...COMMON_ORACLE, ...NODE_ORACLE],
  usesVenv: false,
  installDependencies: ensureNodeDependencies,
};
