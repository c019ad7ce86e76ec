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
}

declare module "vitest" {
  export interface ProvidedContext {
    venv: string;
    python: string;
    odibiSource: string;
  }
}
