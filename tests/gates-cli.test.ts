import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runProcess } from "../src/exec/run-process.js";
import { makePythonFixture, PYTHON_EXPECTED_LINT } from "./fixtures-python.js";
import { CLI, resultJson, tempDir } from "./helpers.js";

async function cli(args: string[]) {
  const r = await runProcess(process.execPath, [CLI, ...args], {
    cwd: process.cwd(),
    timeoutMs: 300_000,
    env: { ODIBI_IMPROVE_ROOT: undefined },
  });
  return { code: r.exitCode, out: r.stdout, err: r.stderr };
}

describe("odibi-improve gates", () => {
  it("checks Master (then from the cache) and a sandbox against Master's baseline", async () => {
    const sacred = await makePythonFixture();
    const root = path.join(tempDir(), "root");
    expect((await cli(["init", "--source", sacred, "--root", root, "--profile", "python"])).code).toBe(0);

    const m = await cli(["--root", root, "gates", "--master", "--json"]);
    expect(m.code).toBe(1);
    const master = resultJson(m.out);
    expect(master.target).toBe("master");
    expect(master.summary).toMatchObject({
      lintErrors: PYTHON_EXPECTED_LINT.length,
      testsPassed: 3,
      testsFailed: 4,
      testsSkipped: 1,
      flaky: 1,
    });

    const again = await cli(["--root", root, "gates"]);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/lint\s+full\s+3\s+0\s+3\s+0\s+0\s+yes/);
    expect(again.out).toContain("FAIL  tests tests/test_broken.py");

    expect((await cli(["--root", root, "sandbox", "create", "1"])).code).toBe(0);
    const sandboxCalc = path.join(root, "sandboxes", "cycle_001", "pkg", "calc.py");
    writeFileSync(
      sandboxCalc,
      readFileSync(sandboxCalc, "utf8").replace("return a / b", "return 0 if b == 0 else a / b"),
    );
    const good = await cli(["--root", root, "--json", "gates", "--sandbox", "1"]);
    const g = resultJson(good.out);
    expect(g.verdict.reason).toMatch(/^promotable/);
    expect(g.verdict.fixed.map((c: { id: string }) => c.id)).toEqual([
      "tests/test_calc.py::TestDivide::test_divide_zero",
    ]);
    expect(g.changedFiles).toEqual(["pkg/calc.py"]);
    expect(good.code).toBe(0);

    writeFileSync(sandboxCalc, readFileSync(sandboxCalc, "utf8").replace("return a + b", "return a - b"));
    const bad = await cli(["--root", root, "gates", "--sandbox", "1"]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("New failures");
    expect(bad.out).toContain("tests/test_calc.py::test_add");
    expect(bad.out).toMatch(/Verdict: rejected: \d+ new failure/);
  });

  it("says how to use it when given both targets", async () => {
    const r = await cli(["--root", tempDir(), "gates", "--master", "--sandbox", "1"]);
    expect(r.code).toBe(2);
  });
});
