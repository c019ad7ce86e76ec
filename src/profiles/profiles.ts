import { existsSync } from "node:fs";
import path from "node:path";
import type { ProfileName } from "../core/types.js";
import { readTextIf } from "../environment/fs-safe.js";

/**
 * Profiles: which commands a kind of repository uses by default. The user can override every command in
 * config.yaml (`commands:`). Python commands use `python`, which the gate runner resolves to the environment's
 * venv (its bin dir is put first on PATH).
 */
export interface ProfileCommands {
  test?: string;
  lint?: string;
  validate?: string;
  run?: string;
  format?: string;
  fix?: string[];
}

export interface Profile {
  name: ProfileName;
  description: string;
  commands: ProfileCommands;
  /** Gates this profile can run. */
  gates: Array<"lint" | "tests" | "validate" | "golden">;
}

export const PROFILE_TABLE: Record<ProfileName, Profile> = {
  odibi: {
    name: "odibi",
    description: "odibi (Python): ruff, pytest, odibi validate, golden projects run with odibi run",
    commands: {
      test: "python -m pytest -q",
      lint: "python -m ruff check odibi",
      validate: "python -m odibi validate {file}",
      run: "python -m odibi run {config}",
      fix: ["python -m ruff check --fix odibi"],
    },
    gates: ["lint", "validate", "tests", "golden"],
  },
  python: {
    name: "python",
    description: "Python: ruff and pytest",
    commands: {
      test: "python -m pytest -q",
      lint: "python -m ruff check .",
      fix: ["python -m ruff check --fix ."],
    },
    gates: ["lint", "tests"],
  },
  node: {
    name: "node",
    description: "Node: npm test, biome or eslint",
    commands: {
      test: "npm test",
      lint: "npx --no-install biome check .",
      fix: ["npx --no-install biome check --write ."],
    },
    gates: ["lint", "tests"],
  },
  go: {
    name: "go",
    description: "Go: go vet, go test",
    commands: { test: "go test ./...", lint: "go vet ./...", fix: ["gofmt -w ."] },
    gates: ["lint", "tests"],
  },
  rust: {
    name: "rust",
    description: "Rust: cargo clippy, cargo test",
    commands: { test: "cargo test", lint: "cargo clippy --message-format=json", fix: ["cargo fmt"] },
    gates: ["lint", "tests"],
  },
  generic: {
    name: "generic",
    description: "Any repository: only the commands you configure",
    commands: {},
    gates: ["lint", "tests"],
  },
};

/** Detect a repository's profile from its files (read only). */
export function detectProfile(repo: string): ProfileName {
  const pyproject = readTextIf(path.join(repo, "pyproject.toml"));
  if (pyproject && /^\s*name\s*=\s*["']odibi["']/m.test(pyproject)) return "odibi";
  if (pyproject || existsSync(path.join(repo, "setup.py")) || existsSync(path.join(repo, "requirements.txt")))
    return "python";
  if (existsSync(path.join(repo, "package.json"))) return "node";
  if (existsSync(path.join(repo, "go.mod"))) return "go";
  if (existsSync(path.join(repo, "Cargo.toml"))) return "rust";
  return "generic";
}

/**
 * node: `npm test` runs package.json's test script, and the gate sees one pass/fail for all of it. When that script
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
 * Profile defaults with the user's overrides on top. With `repo`, the node profile's default test command is the
 * repository's own test runner when `nodeTestCommand` recognises it.
 */
export function resolveCommands(
  profile: ProfileName,
  overrides: ProfileCommands = {},
  repo?: string,
): ProfileCommands {
  const base = PROFILE_TABLE[profile].commands;
  const out: ProfileCommands = { ...base };
  if (profile === "node" && repo !== undefined) out.test = nodeTestCommand(repo) ?? base.test;
  for (const [k, v] of Object.entries(overrides))
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
