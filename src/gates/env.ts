import path from "node:path";
import { venvBinDir } from "../pyenv/python-env.js";

/**
 * The environment every gate command gets. `python` in profile commands must be the environment's venv, so its
 * bin dir goes first on PATH. Bytecode is not written: `__pycache__` folders would change the working-tree hash
 * the gate cache is keyed by (and litter sandboxes).
 *
 * The odibi profile extends this (src/profiles/odibi/gate-env.ts: the sandbox's own code on PYTHONPATH).
 */
export function buildGateEnv(
  opts: { venv?: string; extra?: Record<string, string> } = {},
): Record<string, string> {
  const env: Record<string, string> = {
    PYTHONDONTWRITEBYTECODE: "1",
    PYTHONUNBUFFERED: "1",
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    // Tools that colour or page their output when they think a person is watching.
    NO_COLOR: "1",
    FORCE_COLOR: "0",
  };
  if (opts.venv) {
    const bin = venvBinDir(opts.venv);
    const pathKey =
      process.platform === "win32"
        ? (Object.keys(process.env).find((k) => k.toUpperCase() === "PATH") ?? "Path")
        : "PATH";
    env[pathKey] = [bin, process.env[pathKey] ?? ""].filter((p) => p.length > 0).join(path.delimiter);
    env.VIRTUAL_ENV = opts.venv;
  }
  return { ...env, ...opts.extra };
}
