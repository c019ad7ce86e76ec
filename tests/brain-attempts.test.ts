import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { Budget } from "../src/brain/budget.js";
import { improveSandbox } from "../src/brain/improve-sandbox.js";
import { createLlmClient } from "../src/llm/client.js";
import { tempDir } from "./helpers.js";
import { makeCalcRepo, pytestGates, testSettings } from "./llm-fixtures.js";
import { requestText, type ScriptedLlmServer, type ScriptedReply, startLlmServer } from "./llm-server.js";

let server: ScriptedLlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const env = { OPENAI_API_KEY: "sk-attempts-test-key-000" };

function readEvents(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

describe("bounded attempts", () => {
  it("a wrong fix fails the gates, is reverted, and the next attempt's prompt says what failed", async () => {
    const sandbox = await makeCalcRepo();
    const runGates = pytestGates(inject("python"), sandbox);
    const initial = await runGates({ scope: "full", only: [] });
    const replace = (to: string): ScriptedReply => ({
      type: "tools",
      calls: [{ name: "replace_in_file", args: { path: "calc.py", old_text: "return a - b", new_text: to } }],
    });
    server = await startLlmServer([
      replace("return a * b"),
      { type: "tools", calls: [{ name: "finish", args: { summary: "made add multiply" } }] },
      // attempt 2 — the same old_text only matches if attempt 1 was reverted
      replace("return a + b"),
      { type: "tools", calls: [{ name: "finish", args: { summary: "add adds" } }] },
    ]);
    const trajectoryDir = path.join(tempDir(), "trajectories", "cycle_002");
    const result = await improveSandbox({
      sandboxPath: sandbox,
      client: createLlmClient(testSettings("openai", `${server.origin}/v1`), { env }),
      gateFailures: initial,
      runGates,
      budget: new Budget(),
      limits: { maxAttempts: 3, maxSteps: 5, attemptTimeoutMs: 60_000 },
      trajectoryDir,
    });
    expect(result.status).toBe("fixed");
    expect(result.attemptsUsed).toBe(2);
    expect(result.attempts[0]).toMatchObject({
      stopReason: "finished",
      gatesPassed: false,
      filesChanged: ["calc.py"],
    });
    expect(result.attempts[0]!.failures.join("\n")).toContain("tests/test_calc.py::test_add");
    // 2*3 = 6, not 5: the message of the real pytest failure reaches the next prompt
    const secondPrompt = requestText(server.requests[2]!);
    expect(secondPrompt).toContain("Previous attempt 1");
    expect(secondPrompt).toContain("made add multiply");
    expect(secondPrompt).toContain("assert 6 == 5");
    expect(requestText(server.requests[0]!)).not.toContain("Previous attempt");
    expect(readFileSync(path.join(sandbox, "calc.py"), "utf8")).toContain("return a + b");
    expect(readEvents(path.join(trajectoryDir, "1.jsonl")).find((e) => e.type === "gates")).toMatchObject({
      passed: false,
    });
    expect(readEvents(path.join(trajectoryDir, "2.jsonl")).find((e) => e.type === "gates")).toMatchObject({
      passed: true,
    });
  });

  it("a model that never finishes (tool loop, then text only) is stopped by the step limit, each attempt", async () => {
    const sandbox = await makeCalcRepo();
    const runGates = pytestGates(inject("python"), sandbox);
    const initial = await runGates({ scope: "full", only: [] });
    const maxSteps = 4;
    server = await startLlmServer((_req, i) =>
      i < maxSteps
        ? { type: "tools", calls: [{ name: "list_dir", args: {} }] }
        : { type: "text", text: "I think the bug is in add." },
    );
    const trajectoryDir = path.join(tempDir(), "traj");
    const result = await improveSandbox({
      sandboxPath: sandbox,
      client: createLlmClient(testSettings("openai", `${server.origin}/v1`), { env }),
      gateFailures: initial,
      runGates,
      budget: new Budget(),
      limits: { maxAttempts: 2, maxSteps, attemptTimeoutMs: 60_000 },
      trajectoryDir,
    });
    expect(result.status).toBe("not_fixed");
    expect(result.attempts.map((a) => [a.stopReason, a.steps])).toEqual([
      ["step_limit", maxSteps],
      ["step_limit", maxSteps],
    ]);
    expect(server.requests).toHaveLength(2 * maxSteps);
    // text-only answers are answered with a nudge to use the tools
    expect(requestText(server.requests[maxSteps + 1]!)).toContain("You answered without calling a tool");
    expect(readEvents(path.join(trajectoryDir, "2.jsonl")).filter((e) => e.type === "nudge")).toHaveLength(
      maxSteps,
    );
    // nothing changed, so no gate run and the sandbox is as it was
    expect(result.attempts.every((a) => a.gatesPassed === undefined)).toBe(true);
    expect(readFileSync(path.join(sandbox, "calc.py"), "utf8")).toContain("return a - b");
    expect(result.summary).toContain("not fixed after 2 attempt(s)");
  });

  it("the wall time per attempt stops a slow model", async () => {
    const sandbox = await makeCalcRepo();
    server = await startLlmServer(() => ({ type: "slow", ms: 3000, then: { type: "text", text: "late" } }));
    const result = await improveSandbox({
      sandboxPath: sandbox,
      client: createLlmClient(testSettings("openai", `${server.origin}/v1`), { env }),
      gateFailures: { treeHash: "", startedAt: "", durationMs: 0, runs: [] },
      runGates: pytestGates(inject("python"), sandbox),
      budget: new Budget(),
      limits: { maxAttempts: 1, maxSteps: 5, attemptTimeoutMs: 300 },
      trajectoryDir: path.join(tempDir(), "traj"),
    });
    expect(result.attempts[0]!.stopReason).toBe("time_limit");
    expect(server.requests).toHaveLength(1);
  });
});
