import type { ProfileName } from "../../core/types.js";
import { ensurePythonEnv } from "../../pyenv/python-env.js";
import { type GoldenProject, type InstallGoldenOptions, installGoldenProjects } from "./golden-projects.js";

/**
 * What `odibi-improve init` does for the odibi profile after the environment exists: make sure the venv has
 * odibi (the pinned version; idempotent) and build the golden projects into `<root>/golden/`. Other profiles:
 * nothing, returns []. The integrator calls this from the init command.
 */
export async function prepareOdibiEnvironment(
  env: { config: { profile: ProfileName }; layout: { golden: string } },
  opts: { venv?: string; log?: (line: string) => void } & InstallGoldenOptions = {},
): Promise<GoldenProject[]> {
  if (env.config.profile !== "odibi") return [];
  const { venv, log, ...install } = opts;
  const py = await ensurePythonEnv({ odibi: true, venv, log });
  return installGoldenProjects(env.layout.golden, py.venv, log, install);
}
