import type { ProfileName } from "../core/types.js";
import { ensureNodeDependencies } from "./node-deps.js";
import { ensurePythonDependencies } from "./python-deps.js";
import type { DepsEnv, DepsOutcome } from "./staged-install.js";

/**
 * A repository's third-party packages for its profile: node's `<root>/node_modules`, python's
 * `<root>/python_packages` (with the gates' venv's pip); other profiles have none to install.
 */
export function ensureRepositoryDependencies(
  env: DepsEnv & { config: { profile: ProfileName } },
  opts: { venv: string; log?: (line: string) => void; signal?: AbortSignal },
): Promise<DepsOutcome> {
  const profile = env.config.profile;
  if (profile === "node") return ensureNodeDependencies(env, opts);
  if (profile === "python") return ensurePythonDependencies(env, opts);
  return Promise.resolve({ status: "none", reason: `the ${profile} profile installs no packages` });
}
