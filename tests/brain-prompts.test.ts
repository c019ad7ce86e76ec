import { describe, expect, it } from "vitest";
import { buildUserPrompt, describeCheck, SYSTEM_PROMPT } from "../src/brain/prompts.js";
import type { GateResult } from "../src/core/types.js";

const result: GateResult = {
  treeHash: "t",
  startedAt: "",
  durationMs: 0,
  runs: [
    {
      gate: "lint",
      durationMs: 1,
      checks: [
        {
          gate: "lint",
          id: "F401:odibi/a.py:3:1",
          status: "fail",
          errorType: "F401",
          file: "odibi/a.py",
          line: 3,
          column: 1,
          message: "`os` imported but unused",
        },
        { gate: "lint", id: "E501:odibi/b.py:9:1", status: "pass" },
      ],
    },
    {
      gate: "golden",
      durationMs: 1,
      checks: [
        {
          gate: "golden",
          id: "golden:sales/clean_orders",
          status: "fail",
          errorType: "KeyError",
          message: "node clean_orders failed",
          detail: "odibi error: KeyError: 'order_id' in transformer deduplicate",
        },
      ],
    },
    { gate: "tests", durationMs: 1, checks: [], error: "pytest crashed: exit 4" },
  ],
};

describe("prompts", () => {
  it("the system prompt carries the roadmap's constraints", () => {
    expect(SYSTEM_PROMPT).toContain("Prefer the smallest, safest change");
    expect(SYSTEM_PROMPT).toContain("Do not remove or weaken tests");
    expect(SYSTEM_PROMPT).toContain("Keep code style consistent");
  });

  it("lint rules at file:line, golden nodes with odibi's error, gate errors, memory and previous attempts", () => {
    const p = buildUserPrompt({
      gateResult: result,
      relevantCode: ["odibi/a.py lines 1-5 of 5:\n1| import os"],
      avoid: ["removed the import of os in odibi/a.py (rejected: golden failed)"],
      goal: "odibi clean",
      previous: [
        {
          attempt: 1,
          summary: "tried X",
          filesChanged: ["odibi/a.py"],
          stopReason: "finished",
          failures: ["lint F401"],
        },
      ],
    });
    expect(p).toContain("[lint] F401:odibi/a.py:3:1 F401 at odibi/a.py:3:1: `os` imported but unused");
    expect(p).toContain("[golden] golden:sales/clean_orders KeyError: node clean_orders failed");
    expect(p).toContain("odibi error: KeyError: 'order_id' in transformer deduplicate");
    expect(p).toContain("[tests] the gate could not run: pytest crashed: exit 4");
    expect(p).not.toContain("E501"); // passing checks are not failures
    expect(p).toContain("did NOT work");
    expect(p).toContain("removed the import of os");
    expect(p).toContain("Previous attempt 1");
    expect(p).toContain("Campaign goal: odibi clean");
    expect(p).toContain("1| import os");
  });

  it("long details keep their tail (where the error is), without colour codes or banner lines", () => {
    const detail = `${"y".repeat(10_000)}\n\u001b[31m${"_".repeat(20)} test_x ${"_".repeat(20)}\u001b[0m\nE   KeyError: 'order_id'`;
    const long = describeCheck({ gate: "tests", id: "t::x", status: "fail", detail });
    expect(long.length).toBeLessThan(2000);
    expect(long).toContain("earlier characters");
    expect(long).toContain("E   KeyError: 'order_id'");
    expect(long).not.toContain("\u001b[");
    expect(long).not.toContain("test_x _");
  });
});
