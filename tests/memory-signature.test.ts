import { describe, expect, it } from "vitest";
import { failureSignature, normaliseCheckId, normaliseMessage } from "../src/memory/signature.js";

describe("failureSignature", () => {
  const base = { gate: "tests", checkId: "tests/test_a.py::test_join", errorType: "AssertionError" };

  it("is the same for the same failure on a POSIX and a Windows machine", () => {
    const posix = failureSignature({
      ...base,
      message: 'File "/home/alice/src/odibi/odibi/engine.py", line 850, in merge: KeyError 42',
    });
    const windows = failureSignature({
      ...base,
      message: 'File "C:\\Users\\bob\\odibi\\odibi\\engine.py", line 912, in merge: KeyError 42',
    });
    expect(windows).toBe(posix);
    expect(posix).toMatch(/^sig_[0-9a-f]{16}$/);
  });

  it("ignores temp folders, timestamps, hex ids, uuids, addresses and numbers", () => {
    const a = failureSignature({
      ...base,
      message:
        "at 2025-12-16T22:00:01.123Z wrote /tmp/pytest-of-alice/pytest-7/test_x0/out.csv (object at 0x7f3a2b1c, run 3f2a9c81d0e4b, id 123e4567-e89b-12d3-a456-426614174000): 17 rows",
    });
    const b = failureSignature({
      ...base,
      message:
        "at 2026-01-02T03:04:05Z wrote C:\\Users\\bob\\AppData\\Local\\Temp\\pytest-of-bob\\pytest-12\\test_x0\\out.csv (object at 0x55aa01, run 9a8b7c6d5e4f3, id 00000000-1111-2222-3333-444444444444): 99 rows",
    });
    expect(b).toBe(a);
  });

  it("treats macOS, Linux and Windows temp folders alike, and only real temp folders", () => {
    const on = (p: string) => normaliseMessage(`cannot read ${p}: missing`);
    const mac = on("/private/var/folders/x1/abc_def/T/pytest-of-u/pytest-3/in.csv");
    expect(mac).toBe("cannot read <tmp>: missing");
    expect(on("/tmp/pytest-of-u/pytest-9/in.csv")).toBe(mac);
    expect(on("C:\\Users\\u\\AppData\\Local\\Temp\\pytest-of-u\\in.csv")).toBe(mac);
    expect(on("/tmpfiles/in.csv")).toBe("cannot read /tmpfiles/in.csv: missing");
    expect(on("data/tmp/in.csv")).toBe("cannot read data/tmp/in.csv: missing");
  });

  it("tells different failures apart", () => {
    const m = "KeyError: 'customer_id'";
    const s = failureSignature({ ...base, message: m });
    expect(failureSignature({ ...base, message: "KeyError: 'order_id'" })).not.toBe(s);
    expect(failureSignature({ ...base, errorType: "ValueError", message: m })).not.toBe(s);
    expect(failureSignature({ ...base, gate: "golden", message: m })).not.toBe(s);
    expect(failureSignature({ ...base, checkId: "tests/test_a.py::test_other", message: m })).not.toBe(s);
    // parametrised tests keep their parameters
    expect(failureSignature({ ...base, checkId: "t.py::test_x[3]" })).not.toBe(
      failureSignature({ ...base, checkId: "t.py::test_x[4]" }),
    );
  });

  it("drops line:column from lint check ids so a moved finding keeps its signature", () => {
    expect(normaliseCheckId("F401:src/a.py:3:1")).toBe("F401:src/a.py");
    expect(
      failureSignature({ gate: "lint", checkId: "F401:src\\a.py:3", message: "`os` imported but unused" }),
    ).toBe(
      failureSignature({ gate: "lint", checkId: "F401:src/a.py:17", message: "`os` imported but unused" }),
    );
  });

  it("normalises messages readably and leaves identifiers with digits alone", () => {
    expect(normaliseMessage("expected 3 rows, got 4 in step2 at line 10")).toBe(
      "expected <n> rows, got <n> in step2 at line <n>",
    );
    expect(normaliseMessage("/home/u/proj/pkg/mod.py:12: E501")).toBe("<path>/pkg/mod.py:<n>: E501");
  });
});
