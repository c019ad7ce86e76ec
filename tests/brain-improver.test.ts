import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { Budget } from "../src/brain/budget.js";
import { createLlmImprover, focusOnTask } from "../src/brain/llm-improver.js";
import { ConfigSchema } from "../src/config/schema.js";
import type { Task } from "../src/core/types.js";
import { runProcess } from "../src/exec/run-process.js";
import { makeGateContext } from "../src/gates/context.js";
import { checkGates } from "../src/gates/pipeline.js";
import { createLlmClient } from "../src/llm/client.js";
import { profileOf } from "../src/profiles/index.js";
import { tempDir } from "./helpers.js";
import { makeCalcRepo, testSettings } from "./llm-fixtures.js";
import { type ScriptedLlmServer, startLlmServer } from "./llm-server.js";

let server: ScriptedLlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("the brain as the campaign's LLM approach, on the real gate pipeline", () => {
  it("fixes the target with the python profile's gates and the baseline verdict; trajectories under cycle_NNN", async () => {
    const sandbox = await makeCalcRepo();
    // No flake reruns: the fixture is deterministic, and reruns would only triple the pytest runs.
    const config = ConfigSchema.parse({
      source: { sacred_repo: "/nonexistent-sacred" },
      profile: "python",
      gates: { flake_reruns: 0 },
    });
    const gateEnvs: Array<Record<string, string | undefined> | undefined> = [];
    const ctx = makeGateContext({
      run: (file, args, opts) => {
        gateEnvs.push(opts.env);
        return runProcess(file, args, opts);
      },
      workdir: sandbox,
      config,
      profile: profileOf(config.profile),
      goldenDir: path.join(tempDir(), "golden"),
      outputDir: path.join(tempDir(), "out"),
      venv: inject("venv"),
    });
    const baseline = await checkGates(ctx);
    gateEnvs.length = 0;
    const target = baseline.runs
      .flatMap((r) => r.checks)
      .find((c) => c.status === "fail" && c.id.includes("test_add"));
    expect(target).toBeDefined();
    const task: Task = {
      kind: "failure",
      target: target!.id,
      title: "fix test_add",
      signature: "sig",
      gate: "tests",
    };
    expect(focusOnTask(baseline, task).runs.flatMap((r) => r.checks.map((c) => c.id))).toEqual([target!.id]);

    server = await startLlmServer([
      {
        type: "tools",
        calls: [
          {
            name: "replace_in_file",
            args: { path: "calc.py", old_text: "return a - b", new_text: "return a + b" },
          },
        ],
      },
      { type: "tools", calls: [{ name: "run_gates", args: {} }] },
      { type: "tools", calls: [{ name: "finish", args: { summary: "add adds" } }] },
    ]);
    const root = tempDir();
    const improver = createLlmImprover({
      client: createLlmClient(testSettings("openai", `${server.origin}/v1`), {
        env: { OPENAI_API_KEY: "sk-improver-000" },
      }),
      budget: new Budget(),
      limits: { maxAttempts: 2, maxSteps: 5, attemptTimeoutMs: 120_000, maxAttemptTokens: 300_000 },
      trajectoriesDir: path.join(root, "trajectories"),
    });
    expect(improver.name).toBe("openai/gpt-4o-mini");
    const r = await improver.improve({
      sandbox: { id: "cycle_004", path: sandbox, baseCommit: "", createdAt: "" },
      task,
      baseline,
      ctx,
      avoid: [],
      cycle: 4,
      signal: new AbortController().signal,
    });
    expect(r.summary).toMatch(/^fixed in attempt 1/);
    expect(r.tokens).toBe(360);
    expect(improver.budget.totalTokens).toBe(360);
    expect(r.trajectories).toEqual([path.join(root, "trajectories", "cycle_004", "1.jsonl")]);
    expect(readFileSync(path.join(sandbox, "calc.py"), "utf8")).toContain("return a + b");
    // every gate process the brain started had the key variable unset
    expect(gateEnvs.length).toBeGreaterThan(0);
    for (const e of gateEnvs) expect(e && "OPENAI_API_KEY" in e && e.OPENAI_API_KEY === undefined).toBe(true);
    // the targeted run went through the pipeline and came back to the model as a verdict
    expect(JSON.stringify(server.requests[2]!.body.messages)).toContain("gates (targeted): PASS");
  });
});
