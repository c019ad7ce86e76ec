import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import envPaths from "env-paths";
import { MissingTool, OdibiImproveError } from "../core/errors.js";
import { describeEnd, runProcess } from "../exec/run-process.js";

/** The one place the odibi version used by tests, the demo and CI is pinned. */
export const ODIBI_VERSION = "3.15.1";
/** What the gates add to pytest: xdist for parallel full runs, coverage.py (7.10+: `patch = subprocess`) for the per-test coverage map and coverage gaps. */
export const GATE_PLUGINS = ["pytest-xdist", "coverage>=7.10"] as const;
export const PYTHON_TOOLS = ["pytest", "ruff", ...GATE_PLUGINS] as const;

/** The folder of this package (where package.json is), from dist/ or src/. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** This tool's version, from its package.json (`--version`, the workers' environment manifest). */
export function toolVersion(): string {
  return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string })
    .version;
}

/**
 * Where the tool keeps what it downloads and builds (the venv, odibi's source): the per-user cache folder
 * (`%LOCALAPPDATA%\odibi-improve\Cache` on Windows, `~/.cache/odibi-improve` on Linux, `~/Library/Caches/odibi-improve`
 * on macOS), so updating or reinstalling the package keeps it. A folder inside the package from an older version
 * (`.venv`, `.cache`) is used while it exists.
 */
export function userCache(legacy: string, name: string, packageRoot = PACKAGE_ROOT): string {
  const old = path.join(packageRoot, legacy);
  return existsSync(old) ? old : path.join(envPaths("odibi-improve", { suffix: "" }).cache, name);
}

export function defaultVenvDir(): string {
  return process.env.ODIBI_IMPROVE_VENV ?? userCache(".venv", "venv");
}

export function cacheDir(): string {
  return process.env.ODIBI_IMPROVE_CACHE ?? userCache(".cache", "downloads");
}

export function venvBin(venv: string, exe: string): string {
  return process.platform === "win32"
    ? path.join(venv, "Scripts", `${exe}.exe`)
    : path.join(venv, "bin", exe);
}

export function venvBinDir(venv: string): string {
  return path.join(venv, process.platform === "win32" ? "Scripts" : "bin");
}

async function findSystemPython(): Promise<string> {
  const candidates = process.platform === "win32" ? ["python", "py"] : ["python3", "python"];
  for (const c of candidates) {
    const r = await runProcess(c, ["--version"], { cwd: process.cwd(), timeoutMs: 20_000 });
    if (!r.spawnError && r.exitCode === 0) return c;
  }
  throw new MissingTool(
    "python3",
    "Install Python 3.10+ (https://www.python.org/downloads/ or `apt-get install python3 python3-venv`).",
  );
}

export interface PythonEnv {
  venv: string;
  python: string;
  binDir: string;
  hasOdibi: boolean;
}

interface Marker {
  packages: string[];
}

/**
 * Create (once) a venv with pytest, ruff and coverage.py, and odibi when asked. Idempotent and cheap when done:
 * a marker file records what was installed. Never touches the system site-packages.
 */
export async function ensurePythonEnv(
  opts: { odibi?: boolean; venv?: string; log?: (line: string) => void } = {},
): Promise<PythonEnv> {
  const venv = opts.venv ?? defaultVenvDir();
  const log = opts.log ?? (() => {});
  const marker = path.join(venv, ".odibi-improve.json");
  const want = [...PYTHON_TOOLS, ...(opts.odibi ? [`odibi==${ODIBI_VERSION}`] : [])];
  const have: Marker = existsSync(marker)
    ? (JSON.parse(readFileSync(marker, "utf8")) as Marker)
    : { packages: [] };
  const python = venvBin(venv, "python");
  if (!existsSync(python)) {
    const sys = await findSystemPython();
    log(`creating Python venv at ${venv}`);
    mkdirSync(path.dirname(venv), { recursive: true });
    const r = await runProcess(sys, ["-m", "venv", venv], { cwd: process.cwd(), timeoutMs: 300_000 });
    if (r.exitCode !== 0)
      throw new OdibiImproveError(`could not create venv at ${venv}: ${describeEnd(r)}\n${r.stderr}`, {
        hint: "On Debian/Ubuntu: apt-get install python3-venv",
      });
    have.packages = [];
  }
  const missing = want.filter((p) => !have.packages.includes(p));
  if (missing.length > 0) {
    log(`installing ${missing.join(", ")} into ${venv}`);
    const r = await runProcess(
      python,
      ["-m", "pip", "install", "--disable-pip-version-check", "-q", ...missing],
      {
        cwd: process.cwd(),
        timeoutMs: 1_200_000,
      },
    );
    if (r.exitCode !== 0)
      throw new OdibiImproveError(
        `pip install ${missing.join(" ")} failed: ${describeEnd(r)}\n${r.stderr.slice(-4000)}`,
        {
          hint: "Check that PyPI is reachable (or set PIP_INDEX_URL) and retry `odibi-improve setup`.",
        },
      );
    have.packages = [...new Set([...have.packages, ...missing])];
    writeFileSync(marker, JSON.stringify(have, null, 2));
  }
  return {
    venv,
    python,
    binDir: venvBinDir(venv),
    hasOdibi: have.packages.some((p) => p.startsWith("odibi==")),
  };
}

/**
 * Download odibi's source distribution (pinned version) and unpack it as a plain folder.
 * Returns the folder (e.g. `<cache>/odibi-src/odibi-3.15.1`). Cached.
 */
export async function ensureOdibiSource(opts: { log?: (line: string) => void } = {}): Promise<string> {
  const base = path.join(cacheDir(), "odibi-src");
  const dir = path.join(base, `odibi-${ODIBI_VERSION}`);
  if (existsSync(path.join(dir, "pyproject.toml"))) return dir;
  const env = await ensurePythonEnv({ log: opts.log });
  mkdirSync(base, { recursive: true });
  opts.log?.(`downloading odibi ${ODIBI_VERSION} sdist from PyPI`);
  const dl = path.join(base, "download");
  const r = await runProcess(
    env.python,
    [
      "-m",
      "pip",
      "download",
      "--disable-pip-version-check",
      "--no-deps",
      "--no-binary",
      ":all:",
      "-d",
      dl,
      `odibi==${ODIBI_VERSION}`,
    ],
    { cwd: base, timeoutMs: 600_000 },
  );
  if (r.exitCode !== 0)
    throw new OdibiImproveError(`could not download the odibi sdist: ${describeEnd(r)}\n${r.stderr}`);
  const tar = await import("tar");
  await tar.x({ file: path.join(dl, `odibi-${ODIBI_VERSION}.tar.gz`), cwd: base });
  if (!existsSync(path.join(dir, "pyproject.toml")))
    throw new OdibiImproveError(`the odibi sdist did not unpack to ${dir}`);
  return dir;
}
