import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { describeEnd, runProcess } from "../exec/run-process.js";
import { GATE_PLUGINS, venvBin } from "../pyenv/python-env.js";
import { readTextIf, writeFileAtomic } from "./fs-safe.js";
import { chooseExtras, repositoryRuffSetup, sitePackagesOf, testModulesOf } from "./python-project.js";
import { type DepsEnv, type DepsOutcome, installedKey, stagedInstall } from "./staged-install.js";

/**
 * A python repository's third-party packages for Master and every sandbox: read from Master's pyproject.toml
 * (`[project].dependencies`, the test/dev extras and dependency groups) and requirements files, installed with the
 * gates' venv's pip into `<root>/python_packages` (`pip install --target`), which the gates put on PYTHONPATH and
 * the jail mounts read-only. The repository itself is never installed (no `-e .`, no local paths): its code runs
 * from the tree under test, and nothing of it runs outside the jail. Wheels only (`--only-binary=:all:`), so no
 * package's build script runs either. Re-installed when those files change on Master.
 */

const PYPROJECT = "pyproject.toml";
const REQUIREMENT_FILES = [
  "requirements.txt",
  "requirements-dev.txt",
  "requirements_dev.txt",
  "requirements-test.txt",
  "requirements_test.txt",
  "dev-requirements.txt",
  "test-requirements.txt",
] as const;
/** Extras and dependency groups that tests need. */
const TEST_GROUPS = ["test", "tests", "testing", "dev"];

export interface PythonRequirements {
  /** PEP 508 requirement strings, in order, without duplicates. */
  requirements: string[];
  /** Lines left out, with why (editable installs, local paths, nested files, options). */
  skipped: string[];
}

const normalize = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");
const nameOf = (req: string) => /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(req)?.[1];

/** What a repository needs, from the texts of its pyproject.toml and requirements files. Pure. */
export function pythonRequirements(files: {
  pyproject?: string;
  requirementFiles?: Array<{ name: string; text: string }>;
}): PythonRequirements {
  const out: string[] = [];
  const skipped: string[] = [];
  let self: string | undefined;
  if (files.pyproject !== undefined) {
    const doc = parseToml(files.pyproject) as Record<string, unknown>;
    const project = (doc.project ?? {}) as Record<string, unknown>;
    if (typeof project.name === "string") self = normalize(project.name);
    const strings = (v: unknown) =>
      Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
    out.push(...strings(project.dependencies));
    const extras = (project["optional-dependencies"] ?? {}) as Record<string, unknown>;
    const groups = (doc["dependency-groups"] ?? {}) as Record<string, unknown>;
    for (const g of TEST_GROUPS) out.push(...strings(extras[g]), ...strings(groups[g]));
  }
  for (const { name, text } of files.requirementFiles ?? []) {
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.replace(/(^|\s)#.*$/, "").trim();
      if (line === "") continue;
      if (line.startsWith("-") || /^(\.|\/|[A-Za-z]:[\\/])/.test(line) || /(:\/\/|\bfile:)/.test(line)) {
        skipped.push(`${name}: ${line}`);
        continue;
      }
      out.push(line);
    }
  }
  const seen = new Set<string>();
  const requirements: string[] = [];
  for (const r of out.map((x) => x.trim())) {
    const n = nameOf(r);
    // The project itself (`dev = ["myproj[test]"]`) runs from the tree under test, never installed.
    if (n === undefined || (self !== undefined && normalize(n) === self) || seen.has(r)) continue;
    seen.add(r);
    requirements.push(r);
  }
  return { requirements, skipped };
}

/** A repository's requirements as its files on disk say. A pyproject.toml that is not TOML counts as absent. */
export function repositoryRequirements(repo: string): PythonRequirements & { sources: string[] } {
  const sources: string[] = [];
  let pyproject = readTextIf(path.join(repo, PYPROJECT));
  if (pyproject !== undefined) {
    try {
      parseToml(pyproject);
      sources.push(PYPROJECT);
    } catch {
      pyproject = undefined;
    }
  }
  const requirementFiles = REQUIREMENT_FILES.flatMap((name) => {
    const text = readTextIf(path.join(repo, name));
    if (text === undefined) return [];
    sources.push(name);
    return [{ name, text }];
  });
  return { ...pythonRequirements({ pyproject, requirementFiles }), sources };
}

/**
 * Make `<root>/python_packages` hold what Master's files require, for the venv's Python. Idempotent and cheap when
 * nothing changed; never throws for an install that fails (the outcome says why and what to do).
 */
export async function ensurePythonDependencies(
  env: DepsEnv,
  opts: { venv: string; log?: (line: string) => void; signal?: AbortSignal },
): Promise<DepsOutcome> {
  const found = repositoryRequirements(env.layout.master);
  if (found.requirements.length === 0)
    return {
      status: "none",
      reason: found.sources.length
        ? `${found.sources.join(", ")} name no dependencies`
        : "no dependency files",
    };
  const python = venvBin(opts.venv, "python");
  const key = createHash("sha256")
    .update(JSON.stringify(found.requirements))
    .update(readTextIf(path.join(opts.venv, "pyvenv.cfg")) ?? python)
    .digest("hex");
  const dest = env.layout.pythonPackages;
  if (installedKey(dest) === key) return { status: "current", dir: dest };
  for (const s of found.skipped) opts.log?.(`python dependencies: left out ${s}`);
  const pipArgs = [
    "install",
    "--only-binary=:all:",
    "--no-input",
    "--disable-pip-version-check",
    "--no-warn-script-location",
    "--quiet",
  ];
  return stagedInstall(
    env,
    {
      kind: "python",
      dest,
      key,
      from: `Master's ${found.sources.join(", ")}`,
      prepare: () => {},
      file: python,
      args: (staging) => [
        "-m",
        "pip",
        ...pipArgs,
        "--target",
        path.join(staging, "site"),
        ...found.requirements,
      ],
      command: `pip ${pipArgs.join(" ")} --target <root>/python_packages ${found.requirements.join(" ")}`,
      built: (staging) => path.join(staging, "site"),
      missing: pythonMissing(python),
      failureHint:
        "A package without a wheel for this Python, a version that does not exist, or no access to the package index. " +
        "Fix the requirement (or install it into the gates' venv by hand), then run the command again.",
      count: (dir) => readdirSync(dir).filter((n) => n.endsWith(".dist-info")).length,
    },
    opts,
  );
}

/** What an install says when the gates' Python cannot start. */
function pythonMissing(python: string): { message: string; hint: string } {
  return {
    message: `the gates' Python (${python}) could not be started: the python dependencies were not installed`,
    hint: "Run `odibi-improve setup` (it creates the venv the gates use), then run the command again.",
  };
}

/**
 * PYTHONPATH entries for a python repository's gates: its `src/` (the src layout, whose package is otherwise only
 * importable once installed) and the installed third-party packages. (`python -m` puts the tree itself first.)
 */
export function pythonGatePath(workdir: string, packages: string | undefined): string[] {
  const out: string[] = [];
  const src = path.join(workdir, "src");
  if (existsSync(src) && statSync(src).isDirectory()) out.push(src);
  if (packages !== undefined && existsSync(packages)) out.push(packages);
  return out;
}

/** Extras whose names are test groups: their test tools (pytest and its plugins) are taken, nothing else. */
const TEST_TOOL = /^pytest\b/i;

/**
 * What a project needs to run its own code and tests from the tree: its core dependencies, the requirements of
 * `extras`, the pytest tools of its test groups (`pytest`, `pytest-*` of `dev`/`test` extras or dependency groups)
 * and `ruff==<pin>`. The project itself is left out (its code runs from the tree under test). Pure.
 */
export function projectRequirements(
  pyproject: string,
  extras: readonly string[],
  ruffPin?: string,
  opts: { core?: boolean } = {},
): string[] {
  const doc = parseToml(pyproject) as Record<string, unknown>;
  const project = (doc.project ?? {}) as Record<string, unknown>;
  const self = typeof project.name === "string" ? normalize(project.name) : undefined;
  const strings = (v: unknown) =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  const optional = (project["optional-dependencies"] ?? {}) as Record<string, unknown>;
  const groups = (doc["dependency-groups"] ?? {}) as Record<string, unknown>;
  const out = [
    ...(opts.core === false ? [] : strings(project.dependencies)),
    ...extras.flatMap((e) => strings(optional[e])),
  ];
  for (const g of TEST_GROUPS)
    out.push(...[...strings(optional[g]), ...strings(groups[g])].filter((r) => TEST_TOOL.test(r.trim())));
  if (ruffPin) out.push(`ruff==${ruffPin}`);
  const seen = new Set<string>();
  return out
    .map((r) => r.trim())
    .filter((r) => {
      const n = nameOf(r);
      if (n === undefined || (self !== undefined && normalize(n) === self) || seen.has(r)) return false;
      seen.add(r);
      return true;
    });
}

/** What `ensureProjectDependencies` installed, kept in `<state>/python-extras.json` for `doctor`. */
export interface ExtrasRecord {
  /** The extras asked for (config `python.extras`, or chosen from the tests' imports). */
  requested: string[];
  /** `config` or `tests` (chosen because the tests use modules they provide). */
  source: "config" | "tests";
  because: Record<string, string[]>;
  /** Requirements of those extras that cannot be installed here (no wheel for this Python), with pip's reason. */
  leftOut: Record<string, string>;
  ruff?: { version: string; from?: string };
  /** The key of the request (requirements asked + venv): unchanged means nothing to do. */
  requestKey: string;
}

export const EXTRAS_RECORD = "python-extras.json";

export function readExtrasRecord(state: string): ExtrasRecord | undefined {
  try {
    return JSON.parse(readTextIf(path.join(state, EXTRAS_RECORD)) ?? "") as ExtrasRecord;
  } catch {
    return undefined;
  }
}

/** The extras of a project, by name (for the error naming an extra that does not exist). */
export function projectExtras(pyproject: string): string[] {
  const project = ((parseToml(pyproject) as Record<string, unknown>).project ?? {}) as Record<
    string,
    unknown
  >;
  return Object.keys((project["optional-dependencies"] ?? {}) as Record<string, unknown>);
}

export interface ProjectInstallOptions {
  venv: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** The extras to install; default: the config's `python.extras`, else those the tests need (chooseExtras). */
  /** The core dependencies are already in the venv (odibi: the venv's odibi is the repository's version): not installed. */
  coreInVenv?: boolean;
  extras?: readonly string[];
}

/**
 * The project's own dependencies with its extras and pinned tools, for the odibi profile: `<root>/python_packages`
 * filled by pip from Master's pyproject.toml (see `projectRequirements`). An extra that cannot be installed here
 * (no wheel for this Python, e.g. pyspark) is found by a dry run of each extra after a failed install, left out,
 * and recorded with pip's reason for `doctor`. Never throws for an install that fails.
 */
export async function ensureProjectDependencies(
  env: DepsEnv,
  opts: ProjectInstallOptions,
): Promise<DepsOutcome> {
  const master = env.layout.master;
  const pyproject = readTextIf(path.join(master, PYPROJECT));
  if (pyproject === undefined) return ensurePythonDependencies(env, opts);
  let plan: ReturnType<typeof planProjectInstall>;
  try {
    plan = planProjectInstall(master, pyproject, opts.extras ?? env.config?.python?.extras);
  } catch (e) {
    return {
      status: "failed",
      message: `${path.join(master, PYPROJECT)}: ${e instanceof Error ? e.message : String(e)}`,
      hint: "Fix python.extras in config.yaml (or the pyproject.toml), then run the command again.",
    };
  }
  const python = venvBin(opts.venv, "python");
  const venvKey = readTextIf(path.join(opts.venv, "pyvenv.cfg")) ?? python;
  const keyOf = (reqs: string[]) =>
    createHash("sha256").update(JSON.stringify(reqs)).update(venvKey).digest("hex");
  const core = { core: !opts.coreInVenv };
  const all = projectRequirements(pyproject, plan.extras, plan.ruff?.version, core);
  const has = (name: string) => all.some((r) => new RegExp(`^${name}\\b(?![-_.\\w])`, "i").test(r));
  // The tests run with this venv's python: pytest must be in it, or in the tool's venv behind it. A pytest of
  // its own gets the gates' plugins next to it (xdist for parallel runs, coverage.py for the coverage map).
  if (!opts.coreInVenv && !has("pytest")) all.push("pytest");
  if (has("pytest")) for (const tool of GATE_PLUGINS) if (!has(tool.split(/[<>=]/)[0]!)) all.push(tool);
  const requestKey = keyOf(all);
  const before = readExtrasRecord(env.layout.state);
  if (before?.requestKey === requestKey && installedKey(env.layout.pythonPackages) !== undefined)
    return { status: "current", dir: env.layout.pythonPackages };
  if (all.length === 0)
    return { status: "none", reason: "the venv has every requirement (no extras, no pinned tool)" };
  const install = (reqs: string[]) =>
    pipVenv(
      env,
      { ...opts, fallback: Boolean(opts.coreInVenv) },
      reqs,
      keyOf(reqs),
      `Master's ${PYPROJECT} (extras: ${plan.extras.join(", ") || "none"})`,
    ).catch((e: unknown) => ({
      status: "failed" as const,
      message: `the repository's venv could not be made: ${e instanceof Error ? e.message : String(e)}`,
      hint: "Run `odibi-improve setup --odibi` (the tool's venv makes it), then run the command again.",
    }));
  const base = new Set(projectRequirements(pyproject, [], plan.ruff?.version, core));
  const { r, leftOut } = await installLeavingOut(all, base, install, python, opts);
  if (r.status !== "failed") {
    const record: ExtrasRecord = { ...plan.record, leftOut, requestKey };
    writeFileAtomic(
      env.guard,
      path.join(env.layout.state, EXTRAS_RECORD),
      `${JSON.stringify(record, null, 2)}\n`,
    );
  }
  return r;
}

/**
 * Install `all`; when that fails, find which requirements outside `base` (the extras') cannot be installed here
 * (a dry run each) and install the rest. The left-out ones come back with pip's reason.
 */
async function installLeavingOut(
  all: string[],
  base: ReadonlySet<string>,
  install: (reqs: string[]) => Promise<DepsOutcome>,
  python: string,
  opts: { log?: (line: string) => void; signal?: AbortSignal },
): Promise<{ r: DepsOutcome; leftOut: Record<string, string> }> {
  const leftOut: Record<string, string> = {};
  let r = await install(all);
  if (r.status !== "failed") return { r, leftOut };
  for (const req of all.filter((q) => !base.has(q))) {
    const why = await cannotInstall(python, [req], opts.signal);
    if (why !== undefined) leftOut[req] = why;
  }
  if (Object.keys(leftOut).length === 0) return { r, leftOut };
  for (const [q, why] of Object.entries(leftOut)) opts.log?.(`python dependencies: left out ${q}: ${why}`);
  r = await install(all.filter((q) => !(q in leftOut)));
  return { r, leftOut };
}

/** The extras and ruff pin to install, and what `doctor` is told about them. Throws for an unknown extra. */
function planProjectInstall(master: string, pyproject: string, configured: readonly string[] | undefined) {
  const known = projectExtras(pyproject);
  const unknown = (configured ?? []).filter((e) => !known.includes(e));
  if (unknown.length > 0)
    throw new Error(
      `python.extras names ${unknown.map((e) => `"${e}"`).join(", ")}, which the project does not declare (its extras: ${known.join(", ") || "none"})`,
    );
  const choice = configured
    ? { chosen: [...configured], because: {} }
    : chooseExtras(pyproject, testModulesOf(master));
  const ruff = repositoryRuffSetup(master);
  const pin = ruff.version ? { version: ruff.version, from: ruff.versionFrom } : undefined;
  return {
    extras: choice.chosen,
    ruff: pin,
    record: {
      requested: choice.chosen,
      source: configured ? ("config" as const) : ("tests" as const),
      because: choice.because,
      ...(pin ? { ruff: pin } : {}),
    },
  };
}

const PIP_ARGS = [
  "install",
  "--only-binary=:all:",
  "--no-input",
  "--disable-pip-version-check",
  "--no-warn-script-location",
  "--quiet",
];

/** The file in a repository venv's site-packages that puts the tool's venv's site-packages behind its own. */
export const FALLBACK_PTH = "_odibi_improve_fallback.pth";

/**
 * A venv of the repository's own at `<root>/python_packages` (staged, stamped with `key`): made with the tool's
 * venv's Python (`venv --without-pip`), filled by the tool's pip (`--prefix`, `--ignore-installed`, wheels only).
 * Its python is the gates' `python`, so a test's subprocess (`sys.executable`, whatever PYTHONPATH it sets) sees the
 * same packages. With `fallback`, a `.pth` puts the tool's venv's site-packages behind its own (core dependencies
 * and pytest from there). The venv is moved into place after the install: its scripts' `#!` lines name the staging
 * folder, so the gates call `python -m …` and ruff's binary, never a script.
 */
function pipVenv(
  env: DepsEnv,
  opts: { venv: string; log?: (line: string) => void; signal?: AbortSignal; fallback: boolean },
  reqs: string[],
  key: string,
  from: string,
): Promise<DepsOutcome> {
  const python = venvBin(opts.venv, "python");
  const dest = env.layout.pythonPackages;
  return stagedInstall(
    env,
    {
      kind: "python",
      dest,
      key,
      from,
      prepare: (staging) => {
        const site = path.join(staging, "site");
        execFileSync(python, ["-m", "venv", "--without-pip", site], { stdio: "pipe", timeout: 120_000 });
        const own = sitePackagesOf(site)[0];
        if (opts.fallback && own)
          writeFileSync(path.join(own, FALLBACK_PTH), `${sitePackagesOf(opts.venv).join("\n")}\n`);
      },
      file: python,
      args: (staging) => [
        "-m",
        "pip",
        ...PIP_ARGS,
        "--prefix",
        path.join(staging, "site"),
        "--ignore-installed",
        ...reqs,
      ],
      command: `pip ${PIP_ARGS.join(" ")} --prefix <root>/python_packages ${reqs.join(" ")}`,
      built: (staging) => path.join(staging, "site"),
      missing: pythonMissing(python),
      failureHint:
        "A package without a wheel for this Python, a version that does not exist, or no access to the package index. " +
        "Leave the extra out (python.extras in config.yaml), then run the command again.",
      count: (dir) =>
        sitePackagesOf(dir).flatMap((d) => readdirSync(d).filter((n) => n.endsWith(".dist-info"))).length,
    },
    opts,
  );
}

/** Why pip cannot install `reqs` here (a dry run, wheels only), or undefined when it can. */
async function cannotInstall(
  python: string,
  reqs: string[],
  signal?: AbortSignal,
): Promise<string | undefined> {
  const r = await runProcess(
    python,
    ["-m", "pip", ...PIP_ARGS.filter((a) => a !== "--quiet"), "--dry-run", "--ignore-installed", ...reqs],
    {
      cwd: path.dirname(python),
      timeoutMs: 600_000,
      signal,
    },
  );
  if (r.exitCode === 0) return undefined;
  const lines = `${r.stderr}\n${r.stdout}`.split("\n").map((l) => l.trim());
  // pip's most telling line: no wheel for it, or (a conflict) which dependency has none.
  const pick = (re: RegExp) => lines.find((l) => re.test(l));
  return (
    pick(/^ERROR: No matching distribution/) ??
    pick(/\bdepends on\b/) ??
    pick(/^ERROR: Could not find/) ??
    lines.filter(Boolean).at(-1) ??
    describeEnd(r)
  );
}
