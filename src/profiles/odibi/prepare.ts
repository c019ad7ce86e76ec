import { ensurePythonEnv } from "../../pyenv/python-env.js";
import { type GoldenProject, type InstallGoldenOptions, installGoldenProjects } from "./golden-projects.js";

/**
 * What `odibi-improve init` does for the odibi profile after the environment exists (its `prepare`): make sure the
 * venv has odibi (the pinned version; idempotent) and build the golden projects into `<root>/golden/`.
 */
export async function prepareOdibiEnvironment(
  env: { layout: { golden: string } },
  opts: { venv?: string; log?: (line: string) => void } & InstallGoldenOptions = {},
): Promise<GoldenProject[]> {
  const { venv, log, ...install } = opts;
  const py = await ensurePythonEnv({ odibi: true, venv, log });
  return installGoldenProjects(env.layout.golden, py.venv, log, install);
}
