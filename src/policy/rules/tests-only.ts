import { isCollectedTestFile } from "../paths.js";
import type { ChangedFile, PolicyViolation, RuleInput } from "../types.js";
import { minus, plus, violation } from "../violation.js";

/**
 * A new file the test runner collects as tests (`test_*.py`, `*_test.py`, `*.test.ts`, `*_test.go`…): what a
 * test-adding task may add. Not conftest.py, fixtures or configuration: those change how every test runs.
 */
export function isNewTestFile(f: Pick<ChangedFile, "status" | "path">): boolean {
  return f.status === "added" && isCollectedTestFile(f.path);
}

/**
 * A test-adding task (kind `coverage`, issue 13's "tests that earn their place") adds tests and nothing else: every
 * existing file (the code, its tests, the configuration) stays Master's, and a new file must be one the test runner
 * collects. One violation per other change, naming what was done to which file.
 */
export function testsOnlyRule(input: RuleInput): PolicyViolation[] {
  if (!input.addTestsOnly) return [];
  const out: PolicyViolation[] = [];
  for (const f of input.files) {
    if (isNewTestFile(f)) continue;
    const lines = [...f.removed.map(minus), ...f.added.map(plus)];
    const message =
      f.status === "added"
        ? "a test-adding task may only add test files the runner collects (test_*.py, *_test.py, …); this new file is not one"
        : `a test-adding task may only add new test files; this existing file was ${f.status} (existing tests, the code and its configuration stay Master's)`;
    out.push(violation("tests-only", f.path, 0, message, lines));
  }
  return out;
}
