import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import { readTextIf } from "./fs-safe.js";

/**
 * What a Python repository says about its own tooling, read from its files (never run): the ruff version it pins,
 * the paths its CI lints and format-checks, its extras, and which extras its test suite needs. Pure functions on
 * file texts plus a reader of the repository's files.
 */

export interface RuffSetup {
  /** The pinned version (`ruff==0.14.6` in CI, `rev: v0.14.6` of ruff-pre-commit, `ruff==` in pyproject). */
  version?: string;
  /** Where the version was read. */
  versionFrom?: string;
  /** The arguments CI gives `ruff check` (paths and flags, e.g. `odibi/ tests/`; empty: none found). */
  check: string[];
  /** The arguments CI gives `ruff format` (with `--check`); undefined when CI checks no formatting. */
  format?: string[];
  /** Where the scopes were read. */
  scopeFrom?: string;
}

const SHELL = /[|;&$`<>(){}*?]/;
const RUFF_RUN = /^(?:python3?\s+-m\s+)?ruff\s+(check|format)\b(.*)$/;

/**
 * One shell line of a CI step → the arguments of a `ruff check` / `ruff format --check` (paths and flags, as
 * written), or undefined (pipes and substitutions, `--fix`, formatting that is not a check, other tools).
 */
export function ruffScopeOfLine(line: string): { kind: "check" | "format"; args: string[] } | undefined {
  const m = RUFF_RUN.exec(line.trim());
  if (!m || SHELL.test(m[2]!)) return undefined;
  const words = m[2]!.trim().split(/\s+/).filter(Boolean);
  if (words.some((w) => w === "--fix" || w.startsWith("--fix="))) return undefined;
  const kind = m[1] as "check" | "format";
  if (kind === "format" && !words.includes("--check")) return undefined;
  return { kind, args: words };
}

/** The `run:` texts of a GitHub Actions workflow's steps (a workflow that is not YAML gives none). */
function workflowRuns(text: string): string[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return [];
  }
  const jobs = (doc as { jobs?: Record<string, { steps?: Array<{ run?: unknown }> }> } | null)?.jobs ?? {};
  return Object.values(jobs).flatMap((j) =>
    (j?.steps ?? []).flatMap((s) => (typeof s?.run === "string" ? [s.run] : [])),
  );
}

const RUFF_PIN = /\bruff==([0-9][\w.]*)/;

/** The ruff pin and lint scopes from CI workflows, the pre-commit config and pyproject.toml, in that order. Pure. */
export function ruffSetup(files: {
  workflows?: Array<{ name: string; text: string }>;
  preCommit?: string;
  pyproject?: string;
}): RuffSetup {
  const out: RuffSetup = { check: [] };
  for (const wf of files.workflows ?? [])
    for (const run of workflowRuns(wf.text)) {
      const pin = RUFF_PIN.exec(run)?.[1];
      if (pin && !out.version) Object.assign(out, { version: pin, versionFrom: wf.name });
      for (const line of run.split(/\r?\n/)) {
        const s = ruffScopeOfLine(line);
        if (!s) continue;
        out.scopeFrom ??= wf.name;
        if (s.kind === "check" && out.check.length === 0) out.check = s.args;
        if (s.kind === "format" && out.format === undefined) out.format = s.args;
      }
    }
  if (!out.version && files.preCommit) {
    const rev = /ruff-pre-commit[\s\S]*?\brev:\s*["']?v?([0-9][\w.]*)/.exec(files.preCommit)?.[1];
    if (rev) Object.assign(out, { version: rev, versionFrom: ".pre-commit-config.yaml" });
  }
  if (!out.version && files.pyproject) {
    const pin = RUFF_PIN.exec(files.pyproject)?.[1];
    if (pin) Object.assign(out, { version: pin, versionFrom: "pyproject.toml" });
  }
  return out;
}

/** The ruff setup of the repository at `repo`, from `.github/workflows/*.yml`, `.pre-commit-config.yaml`, pyproject. */
export function repositoryRuffSetup(repo: string): RuffSetup {
  const dir = path.join(repo, ".github", "workflows");
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)) : [];
  return ruffSetup({
    workflows: names.sort().flatMap((n) => {
      const text = readTextIf(path.join(dir, n));
      return text === undefined ? [] : [{ name: `.github/workflows/${n}`, text }];
    }),
    preCommit: readTextIf(path.join(repo, ".pre-commit-config.yaml")),
    pyproject: readTextIf(path.join(repo, "pyproject.toml")),
  });
}

/** Distributions whose import name is not their own name, normalised. */
const IMPORT_NAMES: Record<string, string> = {
  "delta-spark": "delta",
  "psycopg2-binary": "psycopg2",
  "python-dotenv": "dotenv",
  pyyaml: "yaml",
  "scikit-learn": "sklearn",
  pillow: "PIL",
  beautifulsoup4: "bs4",
  "opentelemetry-api": "opentelemetry",
  "opentelemetry-sdk": "opentelemetry",
  "opentelemetry-exporter-otlp": "opentelemetry",
  "openlineage-python": "openlineage",
  coolprop: "CoolProp",
  "importlib-metadata": "importlib_metadata",
  "sentence-transformers": "sentence_transformers",
};

const normalize = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");
/** The distribution name of a PEP 508 requirement. */
export const requirementName = (req: string) => /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(req)?.[1];

/** The top-level module a distribution most likely provides (`azure-storage-blob` → `azure`). */
export function importNameOf(dist: string): string {
  const n = normalize(dist);
  return IMPORT_NAMES[n] ?? n.split("-")[0]!.replace(/-/g, "_");
}

const AGGREGATE_EXTRAS = new Set(["all", "dev", "test", "tests", "testing", "docs", "doc"]);

export interface ExtrasChoice {
  /** The extras chosen, in pyproject order. */
  chosen: string[];
  /** Why each was chosen: the modules the tests use that it provides. */
  because: Record<string, string[]>;
}

/**
 * The extras a test suite needs: every extra (but aggregates like `all`, `dev`) providing a module the tests use
 * (`import x`, `from x import`, `pytest.importorskip("x")`, `patch("x.…")`) that the core dependencies do not. Pure.
 */
export function chooseExtras(pyproject: string, testModules: ReadonlySet<string>): ExtrasChoice {
  const project = ((parseToml(pyproject) as Record<string, unknown>).project ?? {}) as Record<
    string,
    unknown
  >;
  const strings = (v: unknown) =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  const core = new Set(strings(project.dependencies).map((r) => importNameOf(requirementName(r) ?? "")));
  const extras = (project["optional-dependencies"] ?? {}) as Record<string, unknown>;
  const out: ExtrasChoice = { chosen: [], because: {} };
  for (const [extra, reqs] of Object.entries(extras)) {
    if (AGGREGATE_EXTRAS.has(normalize(extra))) continue;
    const used = strings(reqs)
      .map((r) => importNameOf(requirementName(r) ?? ""))
      .filter((m) => m && testModules.has(m) && !core.has(m));
    if (used.length === 0) continue;
    out.chosen.push(extra);
    out.because[extra] = [...new Set(used)];
  }
  return out;
}

const MODULE_USES = [
  /^\s*import\s+([A-Za-z_]\w*)/gm,
  /^\s*from\s+([A-Za-z_]\w*)[\w.]*\s+import\b/gm,
  /importorskip\(\s*["']([A-Za-z_]\w*)/g,
  /patch(?:\.object)?\(\s*["']([A-Za-z_]\w*)\./g,
];

/** The top-level modules a Python source text uses (imports, importorskip, patch targets). Pure. */
export function modulesUsed(text: string): Set<string> {
  const out = new Set<string>();
  for (const re of MODULE_USES) for (const m of text.matchAll(re)) out.add(m[1]!);
  return out;
}

/** The modules a repository's tests use (its `conftest.py` and the files under `tests/` and `test/`). */
export function testModulesOf(repo: string): Set<string> {
  const out = new Set<string>();
  for (const f of testFiles(repo))
    for (const m of modulesUsed(readTextIf(path.join(repo, f)) ?? "")) out.add(m);
  return out;
}

/** The top-level modules installed in a folder of packages (site-packages, `<root>/python_packages`). */
export function installedModules(dir: string): Set<string> {
  const out = new Set<string>();
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith(".") || e.name.endsWith(".dist-info") || e.name.endsWith(".egg-info")) continue;
    if (e.isDirectory()) out.add(e.name);
    else if (/\.(py|so|pyd)$/.test(e.name)) out.add(e.name.split(".")[0]!);
  }
  return out;
}

/** A venv's site-packages folders (`lib/python3.x/site-packages`, `Lib/site-packages`). */
export function sitePackagesOf(venv: string): string[] {
  const win = path.join(venv, "Lib", "site-packages");
  if (existsSync(win)) return [win];
  const lib = path.join(venv, "lib");
  if (!existsSync(lib)) return [];
  return readdirSync(lib)
    .filter((n) => n.startsWith("python"))
    .map((n) => path.join(lib, n, "site-packages"))
    .filter((d) => existsSync(d));
}

export interface UnrunnableTests {
  /** The module the tests use that is not installed. */
  module: string;
  /** Test files (relative, `/`) that use it. */
  files: string[];
  /** The requirement of the repository that provides it, and the extra declaring it (none: a core dependency). */
  requirement: string;
  extra?: string;
}

/**
 * Test files that use a module the repository declares (a core dependency or an extra's requirement) but that is
 * not installed where the gates run (`available`): they fail or skip here for want of it. Grouped by module.
 */
export function unrunnableTests(repo: string, available: ReadonlySet<string>): UnrunnableTests[] {
  const pyproject = readTextIf(path.join(repo, "pyproject.toml"));
  if (pyproject === undefined) return [];
  let project: Record<string, unknown>;
  try {
    project = ((parseToml(pyproject) as Record<string, unknown>).project ?? {}) as Record<string, unknown>;
  } catch {
    return [];
  }
  const strings = (v: unknown) =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  const providers = new Map<string, { requirement: string; extra?: string }>();
  for (const r of strings(project.dependencies))
    providers.set(importNameOf(requirementName(r) ?? ""), { requirement: r });
  const extras = (project["optional-dependencies"] ?? {}) as Record<string, unknown>;
  for (const [extra, reqs] of Object.entries(extras)) {
    if (AGGREGATE_EXTRAS.has(normalize(extra))) continue;
    for (const r of strings(reqs)) {
      const m = importNameOf(requirementName(r) ?? "");
      if (!providers.has(m)) providers.set(m, { requirement: r, extra });
    }
  }
  const byModule = new Map<string, UnrunnableTests>();
  for (const file of testFiles(repo)) {
    for (const m of modulesUsed(readTextIf(path.join(repo, file)) ?? "")) {
      const p = providers.get(m);
      if (!p || available.has(m)) continue;
      const entry = byModule.get(m) ?? { module: m, files: [], ...p };
      entry.files.push(file);
      byModule.set(m, entry);
    }
  }
  return [...byModule.values()].sort(
    (a, b) => b.files.length - a.files.length || a.module.localeCompare(b.module),
  );
}

/** A repository's test files, relative with `/`: `conftest.py` and the `.py` files under `tests/` and `test/`. */
function testFiles(repo: string): string[] {
  const out = existsSync(path.join(repo, "conftest.py")) ? ["conftest.py"] : [];
  for (const d of ["tests", "test"]) {
    const dir = path.join(repo, d);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
    for (const rel of readdirSync(dir, { recursive: true, encoding: "utf8" }).sort())
      if (rel.endsWith(".py")) out.push(`${d}/${rel.split(path.sep).join("/")}`);
  }
  return out;
}
