import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { venvBin } from "../pyenv/python-env.js";
import { readTextIf } from "./fs-safe.js";
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
      missing: {
        message: `the gates' Python (${python}) could not be started: the python dependencies were not installed`,
        hint: "Run `odibi-improve setup` (it creates the venv the gates use), then run the command again.",
      },
      failureHint:
        "A package without a wheel for this Python, a version that does not exist, or no access to the package index. " +
        "Fix the requirement (or install it into the gates' venv by hand), then run the command again.",
      count: (dir) => readdirSync(dir).filter((n) => n.endsWith(".dist-info")).length,
    },
    opts,
  );
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
