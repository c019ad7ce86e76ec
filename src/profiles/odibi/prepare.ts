import { existsSync } from "node:fs";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { readTextIf } from "../../environment/fs-safe.js";
import { ensurePythonEnv, ODIBI_VERSION } from "../../pyenv/python-env.js";
import { pythonImportRoot, repositoryVenv } from "./gate-env.js";
import { type GoldenProject, type InstallGoldenOptions, installGoldenProjects } from "./golden-projects.js";

/** The version a repository's pyproject.toml declares (`[project].version`), undefined when dynamic or absent. */
export function declaredVersion(repo: string): string | undefined {
  try {
    const doc = parseToml(readTextIf(path.join(repo, "pyproject.toml")) ?? "") as {
      project?: { version?: unknown };
    };
    return typeof doc.project?.version === "string" ? doc.project.version : undefined;
  } catch {
    return undefined;
  }
}

export interface OdibiPrepareEnv {
  layout: { golden: string; master?: string; pythonPackages?: string };
}

/**
 * What `odibi-improve init` does for the odibi profile after the environment and the repository's dependencies exist
 * (its `prepare`): make sure the venv has odibi (the pinned version; idempotent), then build the golden projects
 * into `<root>/golden/` from the repository's own templates (Master's `odibi/`, with its installed dependencies),
 * rebuilding those built from another odibi version. Says when the venv's odibi is another version than the
 * repository's (the gates run the repository's).
 */
export async function prepareOdibiEnvironment(
  env: OdibiPrepareEnv,
  opts: { venv?: string; log?: (line: string) => void } & InstallGoldenOptions = {},
): Promise<GoldenProject[]> {
  const { venv, log, ...install } = opts;
  const py = await ensurePythonEnv({ odibi: true, venv, log });
  const master = env.layout.master;
  let scaffoldVenv = py.venv;
  if (master && existsSync(path.join(pythonImportRoot(master), "odibi", "__init__.py")) && !install.odibi) {
    const version = declaredVersion(master) ?? "unknown";
    const own = repositoryVenv(env.layout.pythonPackages);
    if (version !== ODIBI_VERSION)
      log?.(
        `the repository is odibi ${version}, the venv's odibi is ${ODIBI_VERSION}: the gates and golden projects use the repository's code${own ? " and its dependencies" : ""}, never the venv's copy`,
      );
    if (!own)
      log?.(
        "warning: the repository's dependencies are not installed (see the install's message above): its code runs with the venv's odibi dependencies",
      );
    install.odibi = { pythonPath: [pythonImportRoot(master)], version };
    scaffoldVenv = own ?? py.venv;
  }
  return installGoldenProjects(env.layout.golden, scaffoldVenv, log, install);
}
