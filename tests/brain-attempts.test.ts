import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { GateResult } from "../src/core/types.js";
import { makeCalcRepo, pytestGates, runScriptedBrain } from "./llm-fixtures.js";
import { requestText, type Script, type ScriptedLlmServer, type ScriptedReply } from "./llm-server.js";

let server: ScriptedLlmServer | undefined;
let initial: GateResult;
beforeAll(async () => {
  initial = await pytestGates(inject("python"), await makeCalcRepo())({ scope: "full", only: [] });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function run(
  script: Script,
  limits: { maxAttempts: number; maxSteps: number; attemptTimeoutMs: number; maxAttemptTokens?: number },
) {
  const r = await runScriptedBrain({ script, initial, python: inject("python"), opts: { limits } });
  server = r.server;
  return r;
}

describe("bounded attempts", () => {
  it("a wrong fix fails the gates, is reverted, and the next attempt's prompt says what failed", async () => {
    const replace = (to: string): ScriptedReply => ({
      type: "tools",
      calls: [{ name: "replace_in_file", args: { path: "calc.py", old_text: "return a - b", new_text: to } }],
    });
    const { result, sandbox, events, server } = await run(
      [
        replace("return a * b"),
        { type: "tools", calls: [{ name: "finish", args: { summary: "made add multiply" } }] },
        // attempt 2 — the same old_text only matches if attempt 1 was reverted
        replace("return a + b"),
        { type: "tools", calls: [{ name: "finish", args: { summary: "add adds" } }] },
      ],
      { maxAttempts: 3, maxSteps: 5, attemptTimeoutMs: 60_000 },
    );
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
    expect(events(1).find((e) => e.type === "gates")).toMatchObject({ passed: false });
    expect(events(2).find((e) => e.type === "gates")).toMatchObject({ passed: true });
  });

  it("a model that never finishes (a tool loop of different calls) is stopped by the step limit, each attempt", async () => {
    const maxSteps = 4;
    const { result, sandbox, server } = await run(
      (_req, i) => ({
        type: "tools",
        calls: [{ name: "view_file", args: { path: "calc.py", start_line: i + 1 } }],
      }),
      { maxAttempts: 2, maxSteps, attemptTimeoutMs: 60_000 },
    );
    expect(result.status).toBe("not_fixed");
    expect(result.attempts.map((a) => [a.stopReason, a.steps])).toEqual([
      ["step_limit", maxSteps],
      ["step_limit", maxSteps],
    ]);
    expect(server.requests).toHaveLength(2 * maxSteps);
    // nothing changed, so no gate run and the sandbox is as it was
    expect(result.attempts.every((a) => a.gatesPassed === undefined)).toBe(true);
    expect(readFileSync(path.join(sandbox, "calc.py"), "utf8")).toContain("return a - b");
    expect(result.summary).toContain("not fixed after 2 attempt(s)");
    expect(result.summary).toContain("attempts ended by step_limit, step_limit");
  });

  it("the wall time per attempt stops a slow model", async () => {
    const { result, server } = await run(
      () => ({ type: "slow", ms: 3000, reply: { type: "text", text: "late" } }),
      { maxAttempts: 1, maxSteps: 5, attemptTimeoutMs: 300 },
    );
    expect(result.attempts[0]!.stopReason).toBe("time_limit");
    expect(server.requests).toHaveLength(1);
  });
});

describe("giving up early", () => {
  const limits = { maxAttempts: 2, maxSteps: 30, attemptTimeoutMs: 60_000 };
  const view = (args: Record<string, unknown>): ScriptedReply => ({
    type: "tools",
    calls: [{ name: "view_file", args }],
  });

  it("two answers in a row without a tool call end the attempt; the words are its summary", async () => {
    const { result, events, server } = await run(
      [
        // attempt 1: prose, a tool call, then prose twice in a row
        { type: "text", text: "Let me think about it." },
        view({ path: "calc.py" }),
        { type: "text", text: "The bug is in add: it subtracts." },
        { type: "text", text: "add should return a + b." },
        // attempt 2: prose only
        { type: "text", text: "I cannot use tools." },
        { type: "text", text: "Really, I cannot." },
      ],
      limits,
    );
    expect(result.status).toBe("not_fixed");
    expect(result.attempts.map((a) => [a.stopReason, a.steps])).toEqual([
      ["no_tool_call", 4],
      ["no_tool_call", 2],
    ]);
    // a prose-only model makes at most 3 calls per attempt (here 2), not max_steps
    expect(server.requests).toHaveLength(6);
    // the first answer without a tool call is answered with a nudge saying what the next one does
    expect(requestText(server.requests[5]!)).toContain(
      "Another answer without a tool call ends this attempt",
    );
    expect(events(2).filter((e) => e.type === "nudge")).toHaveLength(1);
    expect(result.attempts[0]!.summary).toBe("The bug is in add: it subtracts.\n\nadd should return a + b.");
    expect(result.attempts[1]!.summary).toBe("I cannot use tools.\n\nReally, I cannot.");
    expect(events(1).at(-1)).toMatchObject({
      type: "attempt_end",
      stopReason: "no_tool_call",
      summary: "The bug is in add: it subtracts.\n\nadd should return a + b.",
    });
    expect(events(2).at(-1)).toMatchObject({ type: "attempt_end", stopReason: "no_tool_call" });
    expect(result.summary).toContain('attempts ended by no_tool_call ("The bug is in add: it subtracts.');
    // the next attempt's prompt says why the previous one ended and what the model said
    const secondPrompt = requestText(server.requests[4]!);
    expect(secondPrompt).toContain("ended by no_tool_call");
    expect(secondPrompt).toContain("add should return a + b.");
  });

  it("the same call with the same arguments a third time ends the attempt without running it", async () => {
    const { result, events, server } = await run(
      // argument order does not make a call different
      (_req, i) => ({
        type: "tools",
        calls: [{ name: "list_dir", args: i % 2 ? { path: ".", depth: 2 } : { depth: 2, path: "." } }],
      }),
      limits,
    );
    expect(result.attempts.map((a) => [a.stopReason, a.steps, a.toolCalls])).toEqual([
      ["repeated_call", 3, 3],
      ["repeated_call", 3, 3],
    ]);
    expect(server.requests).toHaveLength(6);
    const traj = events(1);
    expect(traj.filter((e) => e.type === "tool_call")).toHaveLength(3);
    // the third is answered without running it
    expect(traj.filter((e) => e.type === "tool_result" && !e.isError)).toHaveLength(2);
    expect(traj.filter((e) => e.type === "tool_result").at(-1)).toMatchObject({
      isError: true,
      output: expect.stringContaining("not run: list_dir with these arguments 3 times"),
    });
    expect(traj.at(-1)).toMatchObject({ type: "attempt_end", stopReason: "repeated_call" });
    expect(result.summary).toContain("attempts ended by repeated_call, repeated_call");
  });

  it("repeating a read after a file was written is not a loop", async () => {
    const { result } = await run(
      [
        view({ path: "calc.py" }),
        view({ path: "calc.py" }),
        {
          type: "tools",
          calls: [
            {
              name: "replace_in_file",
              args: { path: "calc.py", old_text: "return a - b", new_text: "return a + b" },
            },
          ],
        },
        view({ path: "calc.py" }),
        view({ path: "calc.py" }),
        { type: "tools", calls: [{ name: "finish", args: { summary: "add adds" } }] },
      ],
      limits,
    );
    expect(result.status).toBe("fixed");
    expect(result.attempts.map((a) => [a.stopReason, a.toolCalls])).toEqual([["finished", 6]]);
  });

  it("the per-attempt token cap ends an attempt once its requests reach it", async () => {
    const { result, events, server } = await run(
      (_req, i) => ({ ...view({ path: "calc.py", start_line: i + 1 }), usage: { input: 1000, output: 100 } }),
      { ...limits, maxAttemptTokens: 2500 },
    );
    // 2 requests = 2200 tokens (< 2500): a third starts; 3300 >= 2500: no fourth
    expect(result.attempts.map((a) => [a.stopReason, a.steps, a.tokens])).toEqual([
      ["token_limit", 3, { input: 3000, output: 300 }],
      ["token_limit", 3, { input: 3000, output: 300 }],
    ]);
    expect(server.requests).toHaveLength(6);
    expect(events(1).at(-1)).toMatchObject({ type: "attempt_end", stopReason: "token_limit", tokens: 3300 });
  });
});
