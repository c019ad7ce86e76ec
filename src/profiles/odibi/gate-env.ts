import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { folderInside } from "../../environment/fs-safe.js";
import { buildGateEnv as buildBaseGateEnv } from "../../gates/env.js";
import { venvBinDir } from "../../pyenv/python-env.js";

/**
 * Where a tree's `odibi` package is imported from. odibi's sdist (and its git repository) uses the flat layout:
 * `<tree>/odibi/__init__.py`; a `src/` layout is accepted too, for forks that move it.
 */
export function pythonImportRoot(workdir: string, pkg = "odibi"): string {
  const src = path.join(workdir, "src");
  if (!existsSync(path.join(workdir, pkg, "__init__.py")) && existsSync(path.join(src, pkg, "__init__.py")))
    return src;
  return workdir;
}

/**
 * The environment every odibi gate command runs with, so that it exercises the tree under test and nothing else:
 * - What every gate gets (src/gates/env.ts): PATH with the venv's bin first, so `python`, `ruff`, `pytest`
 *   are the venv's; no colours.
 * - `python` = the repository's venv (`pythonPackages`, `<root>/python_packages`: its dependencies and extras from
 *   its pyproject, ruff at its pin) when it exists, its bin first on PATH; else the tool's venv's.
 * - PYTHONPATH = the tree's import root. PYTHONPATH entries come before site-packages on sys.path, so
 *   `python -m odibi` imports the sandbox's `odibi/`, never an installed copy. No per-sandbox install: nothing to
 *   rebuild after an edit.
 * - No user site-packages, no telemetry/lineage export, no `ODIBI_*` settings leaking from the caller's shell.
 * - With `outputDir`: HOME, temp and caches inside it.
 * - Bytecode: by default none is written (the base env), so no `__pycache__` appears in the sandbox; odibi's own
 *   modules are then compiled on every run (about a second). With `pycacheDir` (a folder shared across cycles,
 *   outside every tree) bytecode is cached there instead; Python checks each .pyc against its source, so sharing
 *   it between sandboxes is safe. Site-packages bytecode is compiled into it once.
 */
export function buildGateEnv(
  workdir: string,
  venv: string,
  opts: { outputDir?: string; pycacheDir?: string; pythonPackages?: string } = {},
): Record<string, string> {
  const base = buildBaseGateEnv({ venv });
  const packages = repositoryVenv(opts.pythonPackages);
  const env: Record<string, string> = {
    ...base,
    PYTHONPATH: pythonImportRoot(workdir),
    // The repository's venv (its dependencies, extras and pinned ruff) before the tool's venv.
    ...repositoryVenvFirst(base, packages),
    PYTHONNOUSERSITE: "1",
    PYTHONUTF8: "1",
    PYTHONIOENCODING: "utf-8",
    // odibi only exports traces/lineage when these are non-empty (utils/telemetry.py, lineage.py).
    OTEL_EXPORTER_OTLP_ENDPOINT: "",
    OTEL_SDK_DISABLED: "true",
    OPENLINEAGE_URL: "",
    ODIBI_CONFIG: "",
    ODIBI_ENV: "",
    ODIBI_PROJECTS_DIR: "",
    // odibi's CLI prints rich tables; keep them unwrapped for logs.
    COLUMNS: "200",
  };
  if (opts.outputDir) Object.assign(env, hermeticDirs(opts.outputDir));
  if (opts.pycacheDir) {
    mkdirSync(opts.pycacheDir, { recursive: true });
    // Empty means unset to Python.
    env.PYTHONDONTWRITEBYTECODE = "";
    env.PYTHONPYCACHEPREFIX = opts.pycacheDir;
  }
  return env;
}

/** `<root>/python_packages` when it holds the repository's venv (made by `ensureProjectDependencies`). */
export function repositoryVenv(pythonPackages: string | undefined): string | undefined {
  return pythonPackages !== undefined && existsSync(path.join(pythonPackages, "pyvenv.cfg"))
    ? pythonPackages
    : undefined;
}

/** PATH (whatever its spelling) with the repository venv's bin first, and VIRTUAL_ENV naming it; nothing without. */
function repositoryVenvFirst(
  base: Record<string, string>,
  packages: string | undefined,
): Record<string, string> {
  const key = Object.keys(base).find((k) => k.toUpperCase() === "PATH");
  if (packages === undefined || key === undefined) return {};
  return { [key]: [venvBinDir(packages), base[key]].join(path.delimiter), VIRTUAL_ENV: packages };
}

/** HOME, temp and caches inside the gate's output folder (created). */
export function hermeticDirs(outputDir: string): Record<string, string> {
  const home = path.join(outputDir, "home");
  const tmp = path.join(outputDir, "tmp");
  // Inside a folder jailed code can write: never made through a link it planted.
  for (const d of [home, tmp]) folderInside(path.dirname(outputDir), d);
  return {
    HOME: home,
    USERPROFILE: home,
    TMPDIR: tmp,
    TMP: tmp,
    TEMP: tmp,
    XDG_CACHE_HOME: path.join(home, ".cache"),
    MPLCONFIGDIR: path.join(home, ".matplotlib"),
  };
}

/**
 * The env for one gate run: the context's (the integrator builds it with buildGateEnv) over the defaults, with
 * PYTHONPATH forced to the tree under test when the context did not set one, so a golden or validate run can
 * never silently test the installed odibi instead of the sandbox's.
 */
export function gateRunEnv(
  ctx: { workdir: string; env: Record<string, string> },
  outputDir: string,
): Record<string, string> {
  return {
    PYTHONPATH: pythonImportRoot(ctx.workdir),
    PYTHONNOUSERSITE: "1",
    PYTHONDONTWRITEBYTECODE: "1",
    NO_COLOR: "1",
    ...hermeticDirs(outputDir),
    ...ctx.env,
  };
}
