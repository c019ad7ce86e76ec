import { readFileSync } from "node:fs";
import path from "node:path";
import { Budget } from "../src/brain/budget.js";
import { type ImproveSandboxOptions, improveSandbox } from "../src/brain/improve-sandbox.js";
import type { RunGates } from "../src/brain/tools.js";
import type { Check, GateResult } from "../src/core/types.js";
import { runProcess } from "../src/exec/run-process.js";
import { createLlmClient } from "../src/llm/client.js";
import type { LlmProviderName, LlmSettings } from "../src/llm/types.js";
import { LocalWorkspace } from "../src/workspace/local-workspace.js";
import { makeGitRepo, tempDir } from "./helpers.js";
import { type Script, type ScriptedLlmServer, startLlmServer } from "./llm-server.js";

/** A tiny Python project with one real bug: `add` subtracts. */
export const CALC_FILES: Record<string, string> = {
  "calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
  "tests/test_calc.py":
    "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n",
  "pytest.ini": "[pytest]\npythonpath = .\n",
};

export async function makeCalcRepo(): Promise<string> {
  return makeGitRepo(path.join(tempDir("oi brain é "), "sandbox"), CALC_FILES);
}

const SUMMARY = /^(PASSED|FAILED|ERROR) (\S+)(?: - (.*))?$/;

/** The `____ test_name ____` section of pytest's output: the traceback with file:line of the failure. */
function tracebackOf(stdout: string, name: string): string | undefined {
  const start = stdout.search(new RegExp(`_{3,} ${name} _{3,}`));
  if (start < 0) return undefined;
  const rest = stdout.slice(start).split("\n").slice(1);
  const end = rest.findIndex((l) => /^(_{3,}|={3,})/.test(l));
  return rest.slice(0, end < 0 ? undefined : end).join("\n");
}

/**
 * Real pytest through the process runner, parsed from its `-rA` short summary. A stand-in for the gate pipeline
 * (built elsewhere) with the same contract: targeted runs only the given test ids.
 */
export function pytestGates(
  python: string,
  sandbox: string,
  calls: Array<{ scope: string; only: string[] }> = [],
): RunGates {
  return async ({ scope, only, signal }) => {
    calls.push({ scope, only });
    const started = new Date().toISOString();
    const ids = scope === "targeted" ? only : [];
    const r = await runProcess(
      python,
      ["-m", "pytest", "-q", "-rA", "--tb=short", "-p", "no:cacheprovider", ...ids],
      {
        cwd: sandbox,
        timeoutMs: 120_000,
        signal,
      },
    );
    const checks: Check[] = [];
    for (const line of r.stdout.split("\n")) {
      const m = SUMMARY.exec(line.trim());
      if (!m) continue;
      checks.push({
        gate: "tests",
        id: m[2]!,
        status: m[1] === "PASSED" ? "pass" : "fail",
        message: m[3],
        file: m[2]!.split("::")[0],
        detail: m[1] === "PASSED" ? undefined : tracebackOf(r.stdout, m[2]!.split("::").at(-1)!),
      });
    }
    const error =
      checks.length === 0
        ? `pytest found nothing (${r.exitCode}): ${r.stdout.slice(-500)}${r.stderr.slice(-500)}`
        : undefined;
    return {
      treeHash: "",
      startedAt: started,
      durationMs: r.durationMs,
      runs: [{ gate: "tests", command: "pytest", checks, durationMs: r.durationMs, error }],
    } satisfies GateResult;
  };
}

/** Settings pointing a provider at the scripted server, with fast retries for tests. */
export function testSettings(
  provider: LlmProviderName,
  baseUrl: string,
  extra: Partial<LlmSettings> = {},
): LlmSettings {
  return {
    provider,
    model: "gpt-4o-mini",
    baseUrl,
    requestTimeoutMs: 10_000,
    maxRetries: 2,
    retryInitialDelayMs: 5,
    maxRetryDelayMs: 20,
    ...extra,
  };
}

export interface ScriptedBrainRun {
  script: Script;
  /** The failing gate result the brain starts from (measure it once per file: it is the same fixture). */
  initial: GateResult;
  python: string;
  opts?: Partial<ImproveSandboxOptions>;
  settings?: Partial<LlmSettings>;
  env?: NodeJS.ProcessEnv;
  /** Default openai (chat completions); anthropic speaks the messages protocol. */
  provider?: LlmProviderName;
}

/**
 * A fresh calc sandbox, a scripted server, the real client over HTTP, real pytest gates: one brain call.
 * The caller closes the returned server.
 */
export async function runScriptedBrain(r: ScriptedBrainRun) {
  const sandbox = await makeCalcRepo();
  const server: ScriptedLlmServer = await startLlmServer(r.script);
  const trajectoryDir = path.join(tempDir(), "traj");
  const result = await improveSandbox({
    workspace: new LocalWorkspace(sandbox),
    client: createLlmClient(testSettings(r.provider ?? "openai", `${server.origin}/v1`, r.settings), {
      env: r.env ?? { OPENAI_API_KEY: "sk-scripted-test-key-000" },
    }),
    gateFailures: r.initial,
    runGates: pytestGates(r.python, sandbox),
    budget: new Budget(),
    limits: { maxAttempts: 2, maxSteps: 6, attemptTimeoutMs: 60_000 },
    trajectoryDir,
    ...r.opts,
  });
  // biome-ignore lint/suspicious/noExplicitAny: trajectory lines are free-form JSON
  const events = (n: number): any[] =>
    readFileSync(path.join(trajectoryDir, `${n}.jsonl`), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
  return { result, events, server, sandbox, trajectoryDir };
}
