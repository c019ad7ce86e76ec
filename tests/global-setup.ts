import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { ensureOdibiSource, ensurePythonEnv } from "../src/pyenv/python-env.js";

/**
 * Real parts: one venv with pytest, ruff and the pinned odibi from PyPI, and odibi's sdist unpacked as a plain
 * folder. Created once (idempotent; `.ci/run` also runs `odibi-improve setup --odibi` first).
 */
export default async function setup(project: TestProject) {
  const log = (l: string) => console.log(`[global-setup] ${l}`);
  const env = await ensurePythonEnv({ odibi: true, log });
  const odibiSource = await ensureOdibiSource({ log });
  project.provide("venv", env.venv);
  project.provide("python", env.python);
  project.provide("odibiSource", odibiSource);
  // The hostile suites (tests/hostile-*.test.ts) write their outcomes here; the total is printed at the end.
  rmSync(HOSTILE_RESULTS, { recursive: true, force: true });
  return () => {
    if (!existsSync(HOSTILE_RESULTS)) return;
    const outcomes = readdirSync(HOSTILE_RESULTS).flatMap(
      (f) => JSON.parse(readFileSync(path.join(HOSTILE_RESULTS, f), "utf8")) as Array<{ contained: boolean }>,
    );
    console.log(
      `[hostile campaigns] contained ${outcomes.filter((o) => o.contained).length}/${outcomes.length}`,
    );
  };
}

/** Same folder as hostile-harness.ts's HOSTILE_RESULTS (not imported: that module needs the vitest runtime). */
const HOSTILE_RESULTS = path.resolve(import.meta.dirname, "..", ".test-results", "hostile");

declare module "vitest" {
  export interface ProvidedContext {
    venv: string;
    python: string;
    odibiSource: string;
  }
}
