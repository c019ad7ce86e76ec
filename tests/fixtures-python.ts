import path from "node:path";

/**
 * A small python repository (pytest + ruff) with every kind of check the gates must tell apart:
 * - lint: F401 (unused import), F841 (unused local), F821 (undefined name) in pkg/calc.py;
 * - tests: passes, an assertion failure, a failing method of a class, a skip, a fixture error (setup error),
 *   a collection error (tests/test_broken.py imports a missing module);
 * - a flaky test that alternates on a counter file (fail, pass, fail, …: both outcomes certain within 3 runs),
 *   the counter kept in a git-ignored file so the tree hash does not change.
 */
export const PYTHON_FIXTURE: Record<string, string> = {
  "pyproject.toml": `[project]
name = "fixture"
version = "0.0.1"

[tool.pytest.ini_options]
testpaths = ["tests"]
`,
  ".gitignore": ".flaky-counter\n__pycache__/\n.ruff_cache/\n",
  "pkg/__init__.py": "",
  "pkg/calc.py": `import os


def add(a, b):
    return a + b


def divide(a, b):
    return a / b


def unused_local():
    value = 1
    return undefined_name
`,
  "pkg/text.py": `def shout(s):
    return s.upper() + "!"
`,
  "tests/test_calc.py": `import pytest

from pkg.calc import add, divide


def test_add():
    assert add(1, 2) == 3


def test_add_wrong():
    assert add(2, 2) == 5


class TestDivide:
    def test_divide(self):
        assert divide(6, 3) == 2

    def test_divide_zero(self):
        assert divide(1, 0) == 0


@pytest.mark.skip(reason="not yet")
def test_skipped():
    pass


@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")


def test_uses_broken(broken):
    assert broken
`,
  "tests/test_text.py": `from pkg.text import shout


def test_shout():
    assert shout("hi") == "HI!"
`,
  "tests/test_broken.py": `from pkg.missing_module import thing


def test_never():
    assert thing
`,
  "tests/test_flaky.py": `from pathlib import Path

COUNTER = Path(__file__).resolve().parent.parent / ".flaky-counter"


def test_alternating():
    n = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(n + 1))
    assert n % 2 == 1, f"run {n} fails on purpose"
`,
};

/** What the gates must report for PYTHON_FIXTURE (tests gate, flake re-runs on). */
export const PYTHON_EXPECTED_TESTS: Record<string, "pass" | "fail" | "skip" | "flaky"> = {
  "tests/test_calc.py::test_add": "pass",
  "tests/test_calc.py::test_add_wrong": "fail",
  "tests/test_calc.py::TestDivide::test_divide": "pass",
  "tests/test_calc.py::TestDivide::test_divide_zero": "fail",
  "tests/test_calc.py::test_skipped": "skip",
  "tests/test_calc.py::test_uses_broken": "fail",
  "tests/test_text.py::test_shout": "pass",
  "tests/test_broken.py": "fail",
  "tests/test_flaky.py::test_alternating": "flaky",
};

export const PYTHON_EXPECTED_LINT = [
  "F401:pkg/calc.py:1:8",
  "F841:pkg/calc.py:13:5",
  "F821:pkg/calc.py:14:12",
];

/** A test failing ~30% of the time at random (no counter): for the "neither promotes nor blocks" proof. */
export const RANDOM_FLAKE_TEST = `import random


def test_random_flake():
    assert random.random() >= 0.3, "unlucky draw"
`;

export async function makePythonFixture(files: Record<string, string> = {}): Promise<string> {
  // Imported here, not at the top: the data above is also used by bench/gates.ts, outside vitest.
  const { makeGitRepo, tempDir } = await import("./helpers.js");
  return makeGitRepo(path.join(tempDir("oi gates py "), "repo"), { ...PYTHON_FIXTURE, ...files });
}
