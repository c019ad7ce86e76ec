import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { Check } from "../src/core/types.js";
import { runProcess } from "../src/exec/run-process.js";
import { parseCargoTest, parseClippyJson } from "../src/gates/parsers/cargo.js";
import { parseGoTestJson, parseGoVet } from "../src/gates/parsers/go.js";
import { parseBiomeJson, parseEslintJson } from "../src/gates/parsers/js-lint.js";
import { parseJUnitXml, ReportFormatError } from "../src/gates/parsers/junit.js";
import { nodeTestFileOutput, withNodeFileOutput } from "../src/gates/parsers/node-test-output.js";
import { parseRuffJson } from "../src/gates/parsers/ruff.js";
import { itWhen } from "./ci-required.js";
import { GO_ENV, GO_EXPECTED_TESTS, makeGoFixture } from "./fixtures-go.js";
import { BIOME, makeNodeFixture, NODE_EXPECTED_TESTS } from "./fixtures-node.js";
import { makePythonFixture, PYTHON_EXPECTED_LINT, PYTHON_EXPECTED_TESTS } from "./fixtures-python.js";
import { makeRustFixture } from "./fixtures-rust.js";
import { tempDir } from "./helpers.js";

/**
 * Parsers on real tool output: each block runs the real tool on a fixture repository and parses what it wrote.
 * (ESLint is not installed here: its parser is checked against the documented `-f json` shape.)
 */
const byId = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.id, c]));
const statuses = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.id, c.status]));
const has = async (exe: string, args: string[]) => {
  const r = await runProcess(exe, args, { cwd: tempDir(), timeoutMs: 30_000 });
  return r.exitCode === 0;
};

describe("ruff and pytest (real output)", () => {
  let repo: string;
  const python = inject("python");
  beforeAll(async () => {
    repo = await makePythonFixture();
  });

  it("ruff --output-format json: rule, file:line:col, message", async () => {
    const r = await runProcess(python, ["-m", "ruff", "check", "--output-format", "json", "."], {
      cwd: repo,
    });
    expect(r.exitCode).toBe(1);
    const checks = parseRuffJson(r.stdout, { gate: "lint", workdir: repo });
    expect(checks.map((c) => c.id).sort()).toEqual([...PYTHON_EXPECTED_LINT].sort());
    const f401 = byId(checks)["F401:pkg/calc.py:1:8"]!;
    expect(f401).toMatchObject({
      gate: "lint",
      status: "fail",
      errorType: "F401",
      file: "pkg/calc.py",
      line: 1,
      column: 8,
    });
    expect(f401.message).toContain("`os` imported but unused");
  });

  it("ruff reports a syntax error and an unreadable path as failing checks", async () => {
    // bad.py does not exist: ruff says so as an io-error diagnostic, still a failure.
    const r = await runProcess(python, ["-m", "ruff", "check", "--output-format", "json", "bad.py"], {
      cwd: repo,
    });
    const missing = parseRuffJson(r.stdout, { gate: "lint", workdir: repo });
    expect(missing).toEqual([expect.objectContaining({ status: "fail", errorType: "E902", file: "bad.py" })]);
    const dir = tempDir();
    writeFileSync(path.join(dir, "syn.py"), "def f(:\n");
    const s = await runProcess(python, ["-m", "ruff", "check", "--output-format", "json", "."], { cwd: dir });
    const syn = parseRuffJson(s.stdout, { gate: "lint", workdir: dir });
    expect(syn.length).toBeGreaterThan(0);
    expect(syn[0]).toMatchObject({ status: "fail", file: "syn.py", line: 1, errorType: "invalid-syntax" });
  });

  it("pytest JUnit: ids path::Class::name, failure types and messages, errors, skips, collection errors", async () => {
    const xml = path.join(tempDir(), "junit.xml");
    const r = await runProcess(
      python,
      [
        "-m",
        "pytest",
        "-q",
        `--junitxml=${xml}`,
        "-o",
        "junit_family=xunit1",
        "--continue-on-collection-errors",
        "-p",
        "no:cacheprovider",
      ],
      { cwd: repo, env: { PYTHONDONTWRITEBYTECODE: "1" } },
    );
    expect(r.exitCode).toBe(1);
    const checks = parseJUnitXml(readFileSync(xml, "utf8"), "pytest", { gate: "tests", workdir: repo });
    const s = statuses(checks);
    // First run of the alternating test: it fails (the gate's re-runs would show it flaky).
    expect(s).toEqual({ ...PYTHON_EXPECTED_TESTS, "tests/test_flaky.py::test_alternating": "fail" });
    const c = byId(checks);
    expect(c["tests/test_calc.py::test_add_wrong"]).toMatchObject({
      errorType: "AssertionError",
      file: "tests/test_calc.py",
      line: 10,
    });
    expect(c["tests/test_calc.py::test_add_wrong"]!.message).toContain("assert 4 == 5");
    expect(c["tests/test_calc.py::TestDivide::test_divide_zero"]).toMatchObject({
      errorType: "ZeroDivisionError",
      message: "ZeroDivisionError: division by zero",
    });
    expect(c["tests/test_calc.py::test_uses_broken"]!.errorType).toBe("RuntimeError");
    expect(c["tests/test_broken.py"]!.errorType).toBe("ModuleNotFoundError");
    expect(c["tests/test_broken.py"]!.message).toBe(
      "ModuleNotFoundError: No module named 'pkg.missing_module'",
    );
    expect(c["tests/test_broken.py"]!.detail).toContain("No module named 'pkg.missing_module'");
    expect(c["tests/test_calc.py::test_skipped"]!.message).toBe("not yet");
  });

  it("rejects a report that is not JUnit", () => {
    expect(() => parseJUnitXml("<html><body/></html>", "pytest", { gate: "tests", workdir: repo })).toThrow(
      ReportFormatError,
    );
    expect(() => parseJUnitXml("not xml at all <<<", "pytest", { gate: "tests", workdir: repo })).toThrow();
    expect(() =>
      parseRuffJson("Traceback (most recent call last):", { gate: "lint", workdir: repo }),
    ).toThrow();
  });
});

describe("node --test and biome (real output)", () => {
  let repo: string;
  beforeAll(async () => {
    repo = await makeNodeFixture();
  });

  it("node --test junit: suites, failures, skips, a file that fails to import", async () => {
    const xml = path.join(tempDir(), "node.xml");
    const r = await runProcess(
      process.execPath,
      ["--test", "--test-reporter=junit", `--test-reporter-destination=${xml}`],
      { cwd: repo },
    );
    expect(r.exitCode).toBe(1);
    const checks = parseJUnitXml(readFileSync(xml, "utf8"), "node", { gate: "tests", workdir: repo });
    expect(statuses(checks)).toEqual(NODE_EXPECTED_TESTS);
    const c = byId(checks);
    expect(c["mul > multiplies"]).toMatchObject({ file: "test/math.test.js", line: 11 });
    expect(c["mul > multiplies"]!.message).toContain("Expected values to be strictly equal");
    expect(c["mul > throws"]!.errorType).toBe("TypeError");
    expect(c["mul > skips"]!.message).toBe("later");
  });

  it("node --test tap beside junit: each file's own output goes to that file's failure, nothing else", async () => {
    const dir = tempDir();
    const files: Record<string, string> = {
      "package.json": `{ "name": "t", "type": "module", "dependencies": { "left-pad": "^1.3.0" } }\n`,
      "test/a.test.js": `import lp from "left-pad";\n`,
      "test/b.test.cjs": `require("left-pad");\n`,
      "test/c.test.js": `import { test } from "node:test";\nconsole.log("hello from c");\ntest("c1", () => {});\ntest("c2", () => { throw new RangeError("boom c2"); });\n`,
      "test/d.test.js": `import { test } from "node:test";\ntest("d", () => { return 1 +; });\n`,
    };
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      writeFileSync(path.join(dir, f), text);
    }
    const xml = path.join(tempDir(), "node.xml");
    const r = await runProcess(
      process.execPath,
      [
        "--test",
        "--test-reporter=junit",
        `--test-reporter-destination=${xml}`,
        "--test-reporter=tap",
        "--test-reporter-destination=stdout",
      ],
      { cwd: dir },
    );
    expect(r.exitCode).toBe(1);
    const ctx = { gate: "tests" as const, workdir: dir };
    const outputs = nodeTestFileOutput(r.stdout, ctx);
    expect([...outputs.keys()].sort()).toEqual(["test/a.test.js", "test/b.test.cjs", "test/d.test.js"]);
    const c = byId(withNodeFileOutput(parseJUnitXml(readFileSync(xml, "utf8"), "node", ctx), r.stdout, ctx));
    expect(c["test/a.test.js"]).toMatchObject({
      status: "fail",
      errorType: "Error",
      message: expect.stringMatching(
        /^Error \[ERR_MODULE_NOT_FOUND\]: Cannot find package 'left-pad' imported from/,
      ),
    });
    expect(c["test/b.test.cjs"]).toMatchObject({
      errorType: "Error",
      message: "Error: Cannot find module 'left-pad'",
    });
    expect(c["test/b.test.cjs"]!.detail).toContain("Require stack:");
    expect(c["test/d.test.js"]).toMatchObject({
      errorType: "SyntaxError",
      message: "SyntaxError: Unexpected token ';'",
    });
    // A test inside a file keeps its own error; a passing file's console output is attached to nothing.
    expect(c.c2).toMatchObject({ status: "fail", errorType: "RangeError", message: "boom c2" });
    expect(Object.values(c).some((x) => x.detail?.includes("hello from c"))).toBe(false);
  });

  it("vitest junit: file::name ids with type and location", async () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, "a.test.js"),
      `import { describe, expect, it } from "vitest";\ndescribe("group", () => {\n  it("passes", () => expect(1).toBe(1));\n  it("fails", () => expect(1).toBe(2));\n  it.skip("skipped", () => {});\n});\n`,
    );
    const xml = path.join(tempDir(), "vitest.xml");
    const vitestBin = path.resolve(import.meta.dirname, "..", "node_modules", ".bin", "vitest");
    await runProcess(vitestBin, ["run", "--root", dir, "--reporter=junit", `--outputFile=${xml}`], {
      cwd: dir,
      timeoutMs: 60_000,
    });
    const checks = parseJUnitXml(readFileSync(xml, "utf8"), "vitest", { gate: "tests", workdir: dir });
    expect(statuses(checks)).toEqual({
      "a.test.js::group > passes": "pass",
      "a.test.js::group > fails": "fail",
      "a.test.js::group > skipped": "skip",
    });
    expect(byId(checks)["a.test.js::group > fails"]).toMatchObject({
      errorType: "AssertionError",
      file: "a.test.js",
      line: 4,
    });
  });

  it("biome --reporter=json: rule category and location; warnings count", async () => {
    const r = await runProcess(BIOME, ["lint", "--reporter=json", "."], { cwd: repo });
    expect(r.exitCode).toBe(1);
    const checks = parseBiomeJson(r.stdout, { gate: "lint", workdir: repo });
    expect(checks.map((c) => c.id).sort()).toEqual([
      "lint/correctness/noUnusedImports:src/lint.js:1:8",
      "lint/suspicious/noDebugger:src/lint.js:4:5",
    ]);
    expect(checks.every((c) => c.status === "fail" && c.file === "src/lint.js")).toBe(true);
  });

  it("eslint -f json (documented shape; eslint is not installed here)", () => {
    const sample = JSON.stringify([
      {
        filePath: path.join(repo, "src", "lint.js"),
        messages: [
          {
            ruleId: "no-debugger",
            severity: 2,
            message: "Unexpected 'debugger' statement.",
            line: 4,
            column: 5,
          },
          {
            ruleId: "no-unused-vars",
            severity: 1,
            message: "'unused' is defined but never used.",
            line: 1,
            column: 10,
          },
          {
            ruleId: null,
            fatal: true,
            severity: 2,
            message: "Parsing error: Unexpected token",
            line: 9,
            column: 1,
          },
          { ruleId: "eqeqeq", severity: 0, message: "off", line: 3, column: 9 },
        ],
        errorCount: 2,
        warningCount: 1,
      },
    ]);
    const checks = parseEslintJson(sample, { gate: "lint", workdir: repo });
    expect(checks.map((c) => c.id)).toEqual([
      "no-debugger:src/lint.js:4:5",
      "no-unused-vars:src/lint.js:1:10",
      "parse-error:src/lint.js:9:1",
    ]);
  });
});

describe("go test -json and go vet (real output)", async () => {
  const haveGo = await has("go", ["version"]);
  let repo: string;
  beforeAll(async () => {
    if (haveGo) repo = await makeGoFixture();
  });

  itWhen(haveGo, "go is not installed (Debian: apt-get install golang-go)")(
    "go test -json: tests, subtests, skips, a package that does not build",
    async () => {
      const r = await runProcess("go", ["test", "-json", "-vet=off", "./..."], {
        cwd: repo,
        env: GO_ENV,
        timeoutMs: 300_000,
      });
      expect(r.exitCode).toBe(1);
      const checks = parseGoTestJson(r.stdout, { gate: "tests", workdir: repo });
      expect(statuses(checks)).toEqual(GO_EXPECTED_TESTS);
      const c = byId(checks);
      expect(c["example.com/fixture/calc.TestMul"]).toMatchObject({
        file: "calc_test.go",
        line: 13,
        message: "Mul(2, 3) = 5, want 6",
      });
      expect(c["example.com/fixture/broken"]).toMatchObject({
        errorType: "BuildFailed",
        file: "broken/broken.go",
        line: 3,
      });
      expect(c["example.com/fixture/broken"]!.message).toContain("undefined: undefinedThing");
    },
  );

  itWhen(haveGo, "go is not installed (Debian: apt-get install golang-go)")(
    "go vet: file:line diagnostics from stderr",
    async () => {
      const r = await runProcess("go", ["vet", "./..."], { cwd: repo, env: GO_ENV, timeoutMs: 300_000 });
      expect(r.exitCode).toBe(1);
      const checks = parseGoVet(r.stderr, { gate: "lint", workdir: repo });
      expect(checks.map((c) => c.id).sort()).toEqual([
        "typecheck:broken/broken.go:3:26",
        "vet:calc/calc.go:10:28",
      ]);
      expect(byId(checks)["vet:calc/calc.go:10:28"]!.message).toContain("fmt.Sprintf format %s reads arg #2");
    },
  );
});

describe("cargo test and clippy (real output)", async () => {
  const haveCargo = (await has("cargo", ["--version"])) && (await has("cargo", ["clippy", "--version"]));
  let repo: string;
  beforeAll(async () => {
    if (haveCargo) repo = await makeRustFixture();
  });

  itWhen(
    haveCargo,
    "cargo with clippy is not installed (https://rustup.rs, then rustup component add clippy)",
  )("cargo test: ok / FAILED / ignored with panic message and location", async () => {
    const r = await runProcess("cargo", ["test", "--offline"], {
      cwd: repo,
      env: { RUST_BACKTRACE: "0", CARGO_TERM_COLOR: "never" },
      timeoutMs: 300_000,
    });
    expect(r.exitCode).toBe(101);
    const checks = parseCargoTest(r.stdout, r.stderr, { gate: "tests", workdir: repo });
    const s = statuses(checks);
    const key = (n: string) => Object.keys(s).find((k) => k.endsWith(`::tests::${n}`))!;
    expect(Object.keys(s)).toHaveLength(4);
    expect(s[key("adds")]).toBe("pass");
    expect(s[key("muls")]).toBe("fail");
    expect(s[key("panics")]).toBe("fail");
    expect(s[key("ignored")]).toBe("skip");
    expect(key("adds").startsWith("src/lib.rs::")).toBe(true);
    expect(byId(checks)[key("panics")]).toMatchObject({
      errorType: "panic",
      message: "boom",
      file: "src/lib.rs",
      line: 33,
    });
    expect(byId(checks)[key("muls")]!.message).toContain("assertion `left == right` failed");
  });

  itWhen(
    haveCargo,
    "cargo with clippy is not installed (https://rustup.rs, then rustup component add clippy)",
  )("clippy --message-format=json: lint code and primary span", async () => {
    const r = await runProcess("cargo", ["clippy", "--offline", "--message-format=json"], {
      cwd: repo,
      timeoutMs: 300_000,
    });
    expect(r.exitCode).toBe(0);
    const checks = parseClippyJson(r.stdout, { gate: "lint", workdir: repo });
    const ptr = checks.find((c) => c.errorType === "clippy::ptr_arg");
    expect(ptr).toMatchObject({ status: "fail", file: "src/lib.rs", line: 9 });
    expect(checks.every((c) => c.file === "src/lib.rs")).toBe(true);
  });
});
