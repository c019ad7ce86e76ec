import { existsSync, readFileSync } from "node:fs";
import { inject } from "vitest";
import { runProcess } from "../src/exec/run-process.js";
import { CLI } from "./helpers.js";

/** The real CLI binary (`npm run build` first), with the test venv and no inherited root. */
export async function cli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 300_000) {
  const r = await runProcess(process.execPath, [CLI, ...args], {
    cwd: process.cwd(),
    timeoutMs,
    env: { ODIBI_IMPROVE_ROOT: undefined, ODIBI_IMPROVE_VENV: inject("venv"), ...env },
  });
  return { code: r.exitCode, signal: r.signal, timedOut: r.timedOut, out: r.stdout, err: r.stderr };
}

/** The key variable of the openai-compatible provider (the key itself is only ever in the child's environment). */
export const LLM_KEY_ENV = "OPENAI_COMPATIBLE_API_KEY";

/** `odibi-improve --root <root> run` against a scripted model server (`origin` without path), plus `extra` flags. */
export function runWithLlm(
  root: string,
  origin: string,
  model: string,
  key: string,
  extra: string[],
  env: Record<string, string> = {},
  timeoutMs?: number,
) {
  return cli(
    [
      "--root",
      root,
      "run",
      "--llm-provider",
      "openai-compatible",
      "--llm-base-url",
      `${origin}/v1`,
      "--llm-model",
      model,
      ...extra,
    ],
    { ...env, [LLM_KEY_ENV]: key },
    timeoutMs,
  );
}

/** The records of a JSON-lines file (memory, trajectories); none when it does not exist. */
// biome-ignore lint/suspicious/noExplicitAny: JSON records as written
export function jsonl(file: string): Array<Record<string, any>> {
  return existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
}

/** A tiny python repository with one ruff-fixable defect (an unused import) and a passing test. */
export const LINT_FIXTURE = {
  "pkg/__init__.py": "",
  "pkg/core.py": "import os\n\n\ndef add(a, b):\n    return a + b\n",
  "tests/test_core.py": "from pkg.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
  "pyproject.toml": '[project]\nname = "pkg"\nversion = "0.1.0"\n',
};
