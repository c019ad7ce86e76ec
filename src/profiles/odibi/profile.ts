import path from "node:path";
import { readTextIf } from "../../environment/fs-safe.js";
import { lintGate } from "../../gates/lint-gate.js";
import { pythonMissingDependencies } from "../../gates/missing-dependency.js";
import { testsGate } from "../../gates/tests-gate.js";
import { COMMON_ORACLE, PYTHON_ORACLE } from "../oracle-paths.js";
import type { Profile } from "../profile.js";
import { discoverPython } from "../python/discover.js";
import { venvToolProbes } from "../python/index.js";
import { buildGateEnv } from "./gate-env.js";
import { goldenGate } from "./golden-gate.js";
import { prepareOdibiEnvironment } from "./prepare.js";
import { validateGate } from "./validate-gate.js";

/**
 * odibi (Python): ruff, `odibi validate` on each golden project, pytest, each golden project run with `odibi run`.
 * Its gate commands run the tree's own `odibi/` (on PYTHONPATH, over the venv's installed odibi).
 */
export const odibiProfile: Profile = {
  name: "odibi",
  description: "odibi (Python): ruff, pytest, odibi validate, golden projects run with odibi run",
  doctor: venvToolProbes(
    ["pytest", "ruff", "odibi"],
    "run `odibi-improve setup --odibi` (creates the venv with pytest, ruff and odibi)",
  ),
  detect: (repo) => /^\s*name\s*=\s*["']odibi["']/m.test(readTextIf(path.join(repo, "pyproject.toml")) ?? ""),
  commands: () => ({
    test: "python -m pytest -q",
    lint: "python -m ruff check odibi",
    validate: "python -m odibi validate {file}",
    run: "python -m odibi run {config}",
    fix: ["python -m ruff check --fix odibi"],
  }),
  gates: [lintGate, validateGate, testsGate, goldenGate],
  gateEnv: ({ workdir, venv, outputDir }) => buildGateEnv(workdir, venv, { outputDir }),
  missingDependencies: pythonMissingDependencies,
  oracle: [...COMMON_ORACLE, ...PYTHON_ORACLE],
  usesVenv: true,
  discover: discoverPython,
  prepare: async (env, opts) => {
    const golden = await prepareOdibiEnvironment(env, opts);
    return golden.length
      ? `golden projects: ${golden.map((g) => g.name).join(", ")} in ${env.layout.golden}`
      : undefined;
  },
};
