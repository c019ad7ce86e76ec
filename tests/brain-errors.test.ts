import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { Budget } from "../src/brain/budget.js";
import type { BrainResult, ImproveSandboxOptions } from "../src/brain/improve-sandbox.js";
import { whyNothingKept } from "../src/brain/llm-improver.js";
import type { GateResult } from "../src/core/types.js";
import { createLlmClient } from "../src/llm/client.js";
import { LlmError } from "../src/llm/errors.js";
import type { LlmSettings } from "../src/llm/types.js";
import { makeCalcRepo, pytestGates, runScriptedBrain, testSettings } from "./llm-fixtures.js";
import { requestText, type Script, type ScriptedLlmServer } from "./llm-server.js";

let server: ScriptedLlmServer | undefined;
let initial: GateResult;
// Every scenario starts from the same fixture, so its real pytest result is measured once.
beforeAll(async () => {
  const sandbox = await makeCalcRepo();
  initial = await pytestGates(inject("python"), sandbox)({ scope: "full", only: [] });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const FIX = {
  name: "replace_in_file",
  args: { path: "calc.py", old_text: "return a - b", new_text: "return a + b" },
};
const FINISH = { name: "finish", args: { summary: "fixed add" } };

function run(script: Script, opts: Partial<ImproveSandboxOptions> = {}, settings: Partial<LlmSettings> = {}) {
  return runScriptedBrain({ script, initial, python: inject("python"), opts, settings }).then((r) => {
    server = r.server;
    return r;
  });
}

describe("provider failures", () => {
  it("429 (and a 503) are retried with backoff, then the attempt succeeds", async () => {
    const { result, events, server } = await run([
      { type: "error", status: 429, message: "Rate limit reached", headers: { "retry-after-ms": "10" } },
      { type: "tools", calls: [FIX] },
      { type: "error", status: 503, message: "overloaded" },
      { type: "tools", calls: [FINISH] },
    ]);
    expect(result.status).toBe("fixed");
    expect(server.requests).toHaveLength(4);
    const retries = events(1).filter((e) => e.type === "retry");
    expect(retries.map((e) => e.retry)).toEqual([1, 1]);
    expect(retries[0].delayMs).toBe(10); // the server's retry-after-ms wins over our backoff
    expect(retries[0].error).toContain("429");
    expect(retries[1].error).toContain("503");
    // failed requests cost nothing: 2 answered requests of 120 tokens
    expect(result.tokens.total).toBe(240);
  });

  it("500s until the retries run out: the brain stops with an LLM error instead of burning attempts", async () => {
    const { result, server } = await run(
      () => ({ type: "error", status: 500, message: "internal error" }),
      {},
      { maxRetries: 2 },
    );
    expect(result.status).toBe("llm_error");
    expect(result.attemptsUsed).toBe(1);
    expect(server.requests).toHaveLength(3); // first try + 2 retries
    expect(result.error).toMatchObject({ kind: "unavailable" });
    expect(result.error!.message).toContain("HTTP 500");
    expect(result.error!.message).toContain("after 2 retries");
  });

  it("401: a clear auth message naming the key variable, no retry", async () => {
    const { result, server } = await run([
      { type: "error", status: 401, message: "Incorrect API key provided" },
    ]);
    expect(result.status).toBe("llm_error");
    expect(server.requests).toHaveLength(1);
    expect(result.error!.kind).toBe("auth");
    expect(result.error!.message).toContain("rejected the API key");
    expect(result.error!.message).toContain("Incorrect API key provided");
    expect(result.error!.hint).toContain("OPENAI_API_KEY");
  });

  it("404 model not found: a clear message naming the model", async () => {
    const { result } = await run([
      {
        type: "error",
        status: 404,
        message: "The model `gpt-4o-mini` does not exist or you do not have access to it.",
      },
    ]);
    expect(result.error!.kind).toBe("model_not_found");
    expect(result.error!.message).toContain('model "gpt-4o-mini"');
    expect(result.error!.hint).toContain("--llm-model");
  });

  it("a request that outlives the per-request timeout is retried, then reported as a timeout", async () => {
    const { result, server } = await run(
      () => ({ type: "slow", ms: 2000, reply: { type: "text", text: "late" } }),
      {},
      { requestTimeoutMs: 150, maxRetries: 1 },
    );
    expect(server.requests).toHaveLength(2);
    expect(result.error).toMatchObject({ kind: "timeout" });
  });

  it("a missing key is a typed error before any request", () => {
    expect(() => createLlmClient(testSettings("openai", "http://127.0.0.1:9/v1"), { env: {} })).toThrowError(
      /OPENAI_API_KEY is not set/,
    );
    try {
      createLlmClient(testSettings("anthropic", "http://127.0.0.1:9/v1"), { env: {} });
    } catch (e) {
      expect(e).toBeInstanceOf(LlmError);
      expect((e as LlmError).kind).toBe("missing_key");
      expect((e as LlmError).hint).toContain("ANTHROPIC_API_KEY");
    }
  });
});

describe("budget", () => {
  it("the shared token budget stops the campaign with BUDGET_EXHAUSTED", async () => {
    const budget = new Budget({ maxTokens: 300 });
    const { result, server } = await run(() => ({ type: "tools", calls: [{ name: "list_dir", args: {} }] }), {
      budget,
    });
    // 120 tokens a request: after the 3rd, 360 ≥ 300
    expect(server.requests).toHaveLength(3);
    expect(result.status).toBe("budget_exhausted");
    expect(result.budget).toMatchObject({ kind: "tokens" });
    expect(budget.totalTokens).toBe(360);
  });

  it("the money budget counts priced models (price table overridable by llm.prices)", async () => {
    // $1 per 1k input tokens: each 100-in/20-out request costs $0.1 + $0.02
    const prices = { "gpt-4o-mini": { input: 1000, output: 1000 } };
    const budget = new Budget({ maxCostUsd: 0.25 });
    const { result, server } = await run(
      () => ({ type: "tools", calls: [{ name: "list_dir", args: {} }] }),
      { budget },
      { prices },
    );
    expect(server.requests).toHaveLength(3);
    expect(result.budget).toMatchObject({ kind: "cost" });
    expect(result.costUsd).toBeCloseTo(0.36, 10);
  });

  it("an already spent budget sends no request at all", async () => {
    const budget = new Budget({ maxTokens: 100 }, { inputTokens: 100 });
    const { result, server } = await run([], { budget });
    expect(server.requests).toHaveLength(0);
    expect(result).toMatchObject({
      status: "budget_exhausted",
      attemptsUsed: 0,
    });
  });

  it("an unpriced model counts tokens, costs nothing known, and is not stopped by a money limit", async () => {
    const budget = new Budget({ maxCostUsd: 0.000001 });
    const { result } = await run(
      [
        { type: "tools", calls: [FIX] },
        { type: "tools", calls: [FINISH] },
      ],
      { budget },
      {
        model: "my-local-model",
      },
    );
    expect(result.status).toBe("fixed");
    expect(result.costUsd).toBeUndefined();
    expect(budget.unpricedTokens).toBe(240);
  });
});

describe("malformed tool calls", () => {
  it("invalid JSON, a wrong schema and an unknown tool each come back as a tool error; the model recovers", async () => {
    const { result, events, server } = await run([
      { type: "tools", calls: [{ name: "replace_in_file", args: '{"path": "calc.py", "old_text": ' }] },
      { type: "tools", calls: [{ name: "view_file", args: { file: "calc.py" } }] },
      { type: "tools", calls: [{ name: "delete_everything", args: {} }] },
      { type: "tools", calls: [FIX] },
      { type: "tools", calls: [FINISH] },
    ]);
    expect(result.status).toBe("fixed");
    const toolResults = events(1).filter((e) => e.type === "tool_result");
    expect(toolResults.slice(0, 3).every((e) => e.isError)).toBe(true);
    expect(toolResults[0].output).toContain("invalid arguments for replace_in_file");
    expect(toolResults[1].output).toContain("invalid arguments for view_file");
    expect(toolResults[1].output).toContain("path");
    expect(toolResults[2].output).toMatch(/delete_everything/);
    // and the model was told, on the wire
    expect(requestText(server.requests[1]!)).toContain("invalid arguments for replace_in_file");
  });
});

describe("whyNothingKept: the gate named in the lesson", () => {
  const result = (failures: string[]) =>
    ({
      status: "gates_failed",
      attempts: [
        {
          attempt: 1,
          stopReason: "finished",
          steps: 1,
          toolCalls: 1,
          tokens: { input: 1, output: 1 },
          filesChanged: ["calc.py"],
          gatesPassed: false,
          failures,
        },
      ],
    }) as unknown as BrainResult;

  it("is the failing check's gate, a policy rule first", () => {
    expect(whyNothingKept(result(["tests tests/t.py::test_a: failed"])).rejected?.gate).toBe("tests");
    expect(
      whyNothingKept(
        result(["lint F401: unused", "policy policy:oracle-modified:tests/t.py:0: [oracle-modified] x"]),
      ).rejected?.gate,
    ).toBe("policy");
  });

  it("is none when the line names no gate (the gates could not run)", () => {
    const why = whyNothingKept(result(["the gates could not run: spawn ENOENT"]));
    expect(why.rejected?.gate).toBeUndefined();
    expect(why.rejected?.reason).toContain("the gates could not run");
  });
});
