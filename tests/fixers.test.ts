import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { fixersFor, lintRule } from "../src/brain/fixers.js";
import { failureTasks } from "../src/campaign/find-work.js";
import { runProcess } from "../src/exec/run-process.js";
import { parseRuffJson } from "../src/gates/parsers/ruff.js";
import { tempDir, writeFiles } from "./helpers.js";

describe("deterministic fixers", () => {
  it("offer ruff --fix only for what real ruff says it can fix safely, one rule in one file", async () => {
    const dir = tempDir();
    // Its own ruff config, so no config in a parent folder changes the rules.
    writeFiles(dir, { "ruff.toml": '[lint]\nselect = ["E4", "E7", "E9", "F"]\n' });
    writeFiles(dir, { "pkg/a.py": 'import os\nX = 1\nimport sys\nprint(X, sys)\nlabel = f"x"\n' });
    const r = await runProcess(
      path.join(inject("venv"), "bin", "python"),
      ["-m", "ruff", "check", ".", "--output-format", "json"],
      {
        cwd: dir,
      },
    );
    const checks = parseRuffJson(r.stdout, { gate: "lint", workdir: dir });
    const byRule = Object.fromEntries(checks.map((c) => [c.errorType, c]));
    expect(byRule.F401?.autofix).toBe(true); // unused import: safe fix
    expect(byRule.F541?.autofix).toBe(true); // f-string without placeholders: safe fix
    expect(byRule.E402?.autofix).toBe(false); // import not at top: ruff has no fix
    const tasks = failureTasks({
      treeHash: "t",
      startedAt: "",
      durationMs: 0,
      runs: [{ gate: "lint", checks, durationMs: 0 }],
    });
    const ctx = { commands: { lint: "python -m ruff check .", fix: ["python -m ruff check --fix ."] } };
    const f401 = tasks.find((t) => lintRule(t) === "F401")!;
    expect(fixersFor(f401, ctx)).toEqual([
      {
        kind: "fixer",
        name: "ruff-fix:F401",
        commands: [["python", "-m", "ruff", "check", "--fix", "--select", "F401", "--", "pkg/a.py"]],
      },
    ]);
    expect(fixersFor(tasks.find((t) => lintRule(t) === "E402")!, ctx)).toEqual([]);
    // Failures of other gates get the profile's fix commands; discovered issues get none (they need an LLM).
    const testFailure = {
      kind: "failure" as const,
      target: "tests/t.py::test_x",
      title: "t",
      signature: "s",
      gate: "tests",
    };
    expect(fixersFor(testFailure, ctx).map((f) => f.name)).toEqual(["fix:python -m ruff check --fix ."]);
    expect(fixersFor({ ...testFailure, kind: "discovered" }, ctx)).toEqual([]);

    // The odibi profile's bare `ruff` (the repository's pin on PATH) is the one a fixer runs; a file
    // `ruff format --check` would reformat gets `ruff format` on that file.
    const pinned = {
      commands: { lint: "ruff check odibi/ tests/", format_check: "ruff format --check odibi/ tests/" },
    };
    expect(fixersFor(f401, pinned)[0]?.commands).toEqual([
      ["ruff", "check", "--fix", "--select", "F401", "--", "pkg/a.py"],
    ]);
    const unformatted = {
      kind: "failure" as const,
      target: "format:odibi/a.py",
      title: "format",
      signature: "s2",
      gate: "lint",
      file: "odibi/a.py",
    };
    expect(fixersFor(unformatted, pinned)).toEqual([
      { kind: "fixer", name: "ruff-format", commands: [["ruff", "format", "--", "odibi/a.py"]] },
    ]);
  });
});
