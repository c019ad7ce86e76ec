import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { Budget } from "../src/brain/budget.js";
import { improveSandbox } from "../src/brain/improve-sandbox.js";
import { createLlmClient } from "../src/llm/client.js";
import { priceFor } from "../src/llm/pricing.js";
import { LocalWorkspace } from "../src/workspace/local-workspace.js";
import { tempDir } from "./helpers.js";
import { makeCalcRepo, pytestGates, testSettings } from "./llm-fixtures.js";
import { requestText, type ScriptedLlmServer, startLlmServer } from "./llm-server.js";

const KEY = "sk-test-planted-0123456789abcdef";
let server: ScriptedLlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const limits = { maxAttempts: 3, maxSteps: 8, attemptTimeoutMs: 60_000 };

describe("brain fixes a failing pytest test through the real SDK over HTTP", () => {
  it("views, edits, runs targeted gates, finishes; the full gates pass; trajectory and cost recorded", async () => {
    const python = inject("python");
    const sandbox = await makeCalcRepo();
    const gateCalls: Array<{ scope: string; only: string[] }> = [];
    const runGates = pytestGates(python, sandbox, gateCalls);
    const initial = await runGates({ scope: "full", only: [] });
    gateCalls.length = 0;
    server = await startLlmServer([
      { type: "tools", calls: [{ name: "view_file", args: { path: "calc.py" } }] },
      {
        type: "tools",
        calls: [
          {
            name: "replace_in_file",
            args: { path: "calc.py", old_text: "return a - b", new_text: "return a + b" },
          },
        ],
      },
      { type: "tools", calls: [{ name: "run_gates", args: { scope: "targeted" } }] },
      { type: "tools", calls: [{ name: "finish", args: { summary: "add() subtracted; it now adds" } }] },
    ]);
    const client = createLlmClient(testSettings("openai", `${server.origin}/v1`), {
      env: { OPENAI_API_KEY: KEY },
    });
    const budget = new Budget();
    const trajectoryDir = path.join(tempDir(), "trajectories", "cycle_001");
    const result = await improveSandbox({
      workspace: new LocalWorkspace(sandbox),
      client,
      gateFailures: initial,
      goal: "make the tests pass",
      avoid: ["changing the test's expected value"],
      runGates,
      budget,
      limits,
      trajectoryDir,
    });

    expect(result.status).toBe("fixed");
    expect(result.attemptsUsed).toBe(1);
    expect(result.filesChanged).toEqual(["calc.py"]);
    expect(readFileSync(path.join(sandbox, "calc.py"), "utf8")).toContain("return a + b");
    expect(result.finalGateResult.runs[0]!.checks.every((c) => c.status === "pass")).toBe(true);
    // targeted first (only the failing test), then the brain's own full run after finish
    expect(gateCalls).toEqual([
      { scope: "targeted", only: ["tests/test_calc.py::test_add"] },
      { scope: "full", only: [] },
    ]);

    // The real wire: four requests to the chat-completions path, with the key as a bearer token.
    expect(server.requests.map((r) => r.path)).toEqual(Array(4).fill("/v1/chat/completions"));
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    const first = requestText(server.requests[0]!);
    expect(first).toContain("Do not remove or weaken tests");
    expect(first).toContain("tests/test_calc.py::test_add");
    expect(first).toContain("make the tests pass");
    expect(first).toContain("changing the test's expected value");
    expect(first).toContain("return a - b"); // the relevant code is in the prompt
    expect(
      server.requests[0]!.body.tools.map((t: { function: { name: string } }) => t.function.name),
    ).toContain("replace_in_file");
    // The tool results went back to the model: the numbered file window, then the targeted gate verdict.
    expect(requestText(server.requests[1]!)).toContain("2|     return a - b");
    expect(requestText(server.requests[3]!)).toContain("gates (targeted): PASS");

    // tokens and cost: 4 requests × (100 in, 20 out) at gpt-4o-mini's price
    expect(result.tokens).toEqual({ input: 400, output: 80, total: 480 });
    const price = priceFor("gpt-4o-mini")!;
    expect(result.costUsd).toBeCloseTo((400 * price.input + 80 * price.output) / 1e6, 12);
    expect(budget.totalTokens).toBe(480);

    const file = path.join(trajectoryDir, "1.jsonl");
    expect(existsSync(file)).toBe(true);
    const events = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const types = events.map((e) => e.type);
    expect(types[0]).toBe("attempt_start");
    expect(types.filter((t) => t === "response")).toHaveLength(4);
    expect(types.filter((t) => t === "tool_call")).toHaveLength(4);
    expect(events.find((e) => e.type === "gates")).toMatchObject({ scope: "full", passed: true });
    expect(events.at(-1)).toMatchObject({
      type: "attempt_end",
      stopReason: "finished",
      filesChanged: ["calc.py"],
      tokens: 480,
    });
    expect(result.attempts[0]!.trajectoryFile).toBe(file);
  });
});
