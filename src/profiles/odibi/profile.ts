import path from "node:path";
import { readTextIf } from "../../environment/fs-safe.js";
import { ensureProjectDependencies } from "../../environment/python-deps.js";
import { repositoryRuffSetup } from "../../environment/python-project.js";
import { lintGate } from "../../gates/lint-gate.js";
import { pythonMissingDependencies } from "../../gates/missing-dependency.js";
import { testsGate } from "../../gates/tests-gate.js";
import { ensurePythonEnv, ODIBI_VERSION } from "../../pyenv/python-env.js";
import { COMMON_ORACLE, PYTHON_ORACLE } from "../oracle-paths.js";
import type { Profile } from "../profile.js";
import { discoverPython } from "../python/discover.js";
import { venvToolProbes } from "../python/index.js";
import { buildGateEnv } from "./gate-env.js";
import { goldenGate } from "./golden-gate.js";
import { declaredVersion, prepareOdibiEnvironment } from "./prepare.js";
import { validateGate } from "./validate-gate.js";

/**
 * odibi (Python): ruff (and its formatting check) as the repository's CI runs them, `odibi validate` on each golden
 * project, pytest, each golden project run with `odibi run`. Its gate commands run the tree's own `odibi/` (on
 * PYTHONPATH) with the repository's dependencies and extras (`<root>/python_packages`), over the venv's odibi.
 */
export const odibiProfile: Profile = {
  name: "odibi",
  description: "odibi (Python): ruff, pytest, odibi validate, golden projects run with odibi run",
  doctor: venvToolProbes(
    ["pytest", "ruff", "coverage", "odibi"],
    "run `odibi-improve setup --odibi` (creates the venv with pytest, ruff, coverage.py and odibi)",
  ),
  detect: (repo) => /^\s*name\s*=\s*["']odibi["']/m.test(readTextIf(path.join(repo, "pyproject.toml")) ?? ""),
  commands: (repo) => {
    // ruff's scope and formatting check as the repository's CI runs them (`odibi` when it says nothing); bare
    // `ruff` so that the repository's pinned ruff (installed with its dependencies, first on PATH) is the one run.
    const ruff = repo ? repositoryRuffSetup(repo) : { check: [] };
    const scope = ruff.check.length > 0 ? ruff.check.join(" ") : "odibi";
    return {
      test: "python -m pytest -q",
      lint: `ruff check ${scope}`,
      ...(ruff.format ? { format_check: `ruff format ${ruff.format.join(" ")}` } : {}),
      validate: "python -m odibi validate {file}",
      run: "python -m odibi run {config}",
      fix: [`ruff check --fix ${scope}`],
    };
  },
  gates: [lintGate, validateGate, testsGate, goldenGate],
  gateEnv: ({ workdir, venv, outputDir, pythonPackages }) =>
    buildGateEnv(workdir, venv, { outputDir, pythonPackages }),
  // The venv's odibi from PyPI brought its dependencies: a repository of that same version needs only its extras
  // and pinned tools on top (the bundled demo target); any other version gets its own core dependencies too.
  installDependencies: (env, opts) =>
    ensureProjectDependencies(env, {
      ...opts,
      coreInVenv: declaredVersion(env.layout.master) === ODIBI_VERSION,
    }),
  missingDependencies: pythonMissingDependencies,
  oracle: [...COMMON_ORACLE, ...PYTHON_ORACLE],
  usesVenv: true,
  discover: discoverPython,
  ensureTools: (opts) => ensurePythonEnv({ odibi: true, ...opts }),
  prepare: async (env, opts) => {
    const golden = await prepareOdibiEnvironment(env, opts);
    return golden.length
      ? `golden projects: ${golden.map((g) => g.name).join(", ")} in ${env.layout.golden}`
      : undefined;
  },
};
