import { existsSync } from "node:fs";
import path from "node:path";
import { readTextIf } from "../../environment/fs-safe.js";
import { ensurePythonDependencies, pythonGatePath } from "../../environment/python-deps.js";
import { buildGateEnv } from "../../gates/env.js";
import { lintGate } from "../../gates/lint-gate.js";
import { pythonMissingDependencies } from "../../gates/missing-dependency.js";
import { testsGate } from "../../gates/tests-gate.js";
import { ensurePythonEnv } from "../../pyenv/python-env.js";
import { COMMON_ORACLE, PYTHON_ORACLE } from "../oracle-paths.js";
import type { Profile, ToolProbe } from "../profile.js";
import { discoverPython } from "./discover.js";

/**
 * Python: ruff and pytest from the gates' venv; the repository's requirements installed under the root
 * (`<root>/python_packages`), on PYTHONPATH after the tree's `src/`.
 */
/** `doctor`'s checks of the gates' venv: each module's `--version` through the venv's python. */
export function venvToolProbes(modules: string[], install: string): ToolProbe[] {
  return modules.map((m) => ({ name: m, file: "venv-python", args: ["-m", m, "--version"], install }));
}

export const pythonProfile: Profile = {
  name: "python",
  description: "Python: ruff and pytest",
  doctor: venvToolProbes(
    ["pytest", "ruff", "coverage"],
    "run `odibi-improve setup` (creates the venv with pytest, ruff and coverage.py)",
  ),
  detect: (repo) =>
    Boolean(readTextIf(path.join(repo, "pyproject.toml"))) ||
    existsSync(path.join(repo, "setup.py")) ||
    existsSync(path.join(repo, "requirements.txt")),
  commands: () => ({
    test: "python -m pytest -q",
    lint: "python -m ruff check .",
    fix: ["python -m ruff check --fix ."],
  }),
  gates: [lintGate, testsGate],
  gateEnv: ({ workdir, venv, pythonPackages }) => {
    const entries = pythonGatePath(workdir, pythonPackages);
    if (entries.length === 0) return buildGateEnv({ venv });
    const inherited = process.env.PYTHONPATH;
    return {
      ...buildGateEnv({ venv }),
      PYTHONPATH: [...entries, ...(inherited ? [inherited] : [])].join(path.delimiter),
    };
  },
  missingDependencies: pythonMissingDependencies,
  oracle: [...COMMON_ORACLE, ...PYTHON_ORACLE],
  usesVenv: true,
  discover: discoverPython,
  ensureTools: (opts) => ensurePythonEnv(opts),
  installDependencies: ensurePythonDependencies,
};
