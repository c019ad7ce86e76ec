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
  limits: { maxAttempts: number; maxSteps: number; attemptTimeoutMs: number },
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

  it("a model that never finishes (tool loop, then text only) is stopped by the step limit, each attempt", async () => {
    const maxSteps = 4;
    const { result, sandbox, events, server } = await run(
      (_req, i) =>
        i < maxSteps
          ? { type: "tools", calls: [{ name: "list_dir", args: {} }] }
          : { type: "text", text: "I think the bug is in add." },
      { maxAttempts: 2, maxSteps, attemptTimeoutMs: 60_000 },
    );
    expect(result.status).toBe("not_fixed");
    expect(result.attempts.map((a) => [a.stopReason, a.steps])).toEqual([
      ["step_limit", maxSteps],
      ["step_limit", maxSteps],
    ]);
    expect(server.requests).toHaveLength(2 * maxSteps);
    // text-only answers are answered with a nudge to use the tools
    expect(requestText(server.requests[maxSteps + 1]!)).toContain("You answered without calling a tool");
    expect(events(2).filter((e) => e.type === "nudge")).toHaveLength(maxSteps);
    // nothing changed, so no gate run and the sandbox is as it was
    expect(result.attempts.every((a) => a.gatesPassed === undefined)).toBe(true);
    expect(readFileSync(path.join(sandbox, "calc.py"), "utf8")).toContain("return a - b");
    expect(result.summary).toContain("not fixed after 2 attempt(s)");
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
