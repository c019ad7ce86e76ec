import { afterEach, describe, expect, it, vi } from "vitest";
import { progressPrinter } from "../src/cli/commands/run.js";

/** A terminal-like stream that records what was written (the unit under test is the printer alone). */
function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  const stream = { isTTY, columns: 200, write: (s: string) => writes.push(s) > 0 };
  return { writes, stream: stream as unknown as NodeJS.WriteStream };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("progress printer", () => {
  it("on a terminal keeps a live line with cycle i/N, the running gate and elapsed / budget", () => {
    vi.useFakeTimers();
    const { writes, stream } = fakeStream(true);
    const print = progressPrinter(false, { maxHours: 4 }, stream);
    print({ type: "cycle", cycle: 3, index: 3, of: 8 });
    print({ type: "log", message: "[tests] python -m pytest -q" });
    writes.length = 0;
    vi.advanceTimersByTime(3000);
    const live = writes.join("");
    expect(live).toContain("cycle 3/8 · [tests] python -m pytest -q (3s)");
    expect(live).toMatch(/0:00:03 \/ 4h/);
    // A log line first erases the live line, so the log stays clean.
    writes.length = 0;
    print({ type: "decision", cycle: 3, task: "lint failure F401", action: "promoted", reason: "fixes it" });
    expect(writes[0]).toBe("\r\x1b[2K");
    expect(writes[1]).toMatch(/^\[0:00:03 \/ 4h\] {3}→ promoted: lint failure F401\n$/);
    print({ type: "end", reason: "CONVERGED", exitCode: 0 });
    writes.length = 0;
    vi.advanceTimersByTime(5000);
    expect(writes).toEqual([]);
  });

  it("after --resume counts from the hours the campaign already ran (its time budget's clock)", () => {
    vi.useFakeTimers();
    const { writes, stream } = fakeStream(false);
    const print = progressPrinter(false, { maxHours: 4, spentHours: 1.5 }, stream);
    print({ type: "cycle", cycle: 9, index: 1, of: 8 });
    expect(writes[0]).toMatch(/^\[1:30:00 \/ 4h\] cycle 9/);
  });

  it("in a log file (not a terminal) writes plain lines only", () => {
    vi.useFakeTimers();
    const { writes, stream } = fakeStream(false);
    const print = progressPrinter(false, { maxHours: 2 }, stream);
    print({ type: "cycle", cycle: 1, index: 1, of: 5 });
    print({ type: "log", message: "[lint] python -m ruff check ." });
    vi.advanceTimersByTime(5000);
    print({ type: "end", reason: "NO_WORK", exitCode: 0 });
    const all = writes.join("");
    expect(all).not.toContain("\x1b");
    expect(all).not.toContain("\r");
    expect(all.trimEnd().split("\n")).toEqual([
      "[0:00:00 / 2h] cycle 1 (1/5)",
      "[0:00:00 / 2h]   [lint] python -m ruff check .",
      "[0:00:05 / 2h] campaign ended: NO_WORK",
    ]);
  });

  it("with --json writes one JSON event per line", () => {
    const { writes, stream } = fakeStream(true);
    const print = progressPrinter(true, { maxHours: 1 }, stream);
    print({ type: "cycle", cycle: 2, index: 2, of: 3 });
    expect(writes).toHaveLength(1);
    expect(JSON.parse(writes[0]!)).toMatchObject({ type: "cycle", cycle: 2, index: 2, of: 3 });
  });
});
