import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import type { Check } from "../core/types.js";
import { declaredNodeDependencies } from "../environment/node-deps.js";
import type { MissingDependencyJudge } from "./gate.js";

/**
 * Failures the environment causes rather than the code: a test or golden run that needs a Python package the
 * venv does not have (odibi's Spark tests without `odibi[spark]`), or a node package the repository declares but
 * that is not installed. No code change fixes them (the honest ones
 * would be skips, which the policy gate rejects), so they are not work: they are reported with what to install.
 */

const NO_MODULE = /\b(?:ModuleNotFoundError|ImportError): No module named '([\w.]+)'/;
const PIP_HINT =
  /\b(?:ModuleNotFoundError|ImportError)\b[^\n]*?\bpip install ['"`]?([\w.-]+(?:\[[\w,.-]+\])?)/;

type Judged = Pick<Check, "status" | "message" | "detail">;

/** A failing check's message and detail, the text the judges read; undefined for any other status. */
function failureText(check: Judged): string | undefined {
  return check.status === "fail" ? [check.message, check.detail].filter(Boolean).join("\n") : undefined;
}

/**
 * What is missing when `check` failed for want of a package the repository does not provide itself, e.g.
 * "pip install odibi[spark]" or "module pyspark"; undefined for any other failure. A module of the repository
 * itself (`odibi.transfomers`, a typo in an import) is a code bug, not a missing dependency. Pure.
 */
export function missingDependency(check: Judged, localModules: ReadonlySet<string>): string | undefined {
  const text = failureText(check);
  if (text === undefined) return undefined;
  const pip = PIP_HINT.exec(text);
  if (pip) return `pip install ${pip[1]}`;
  const mod = NO_MODULE.exec(text)?.[1];
  if (mod && !localModules.has(mod.split(".")[0]!)) return `module ${mod}`;
  return undefined;
}

/** The top-level Python modules a repository provides (packages and modules at its root and under `src/`). */
export function localPythonModules(repo: string): Set<string> {
  const out = new Set<string>();
  for (const dir of [repo, path.join(repo, "src")]) {
    if (!existsSync(dir)) continue;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith(".")) continue;
      if (e.isFile() && e.name.endsWith(".py")) out.add(e.name.slice(0, -3));
      else if (e.isDirectory()) out.add(e.name); // namespace packages need no __init__.py
    }
  }
  return out;
}

/** Node's "not found" for a package: ESM `Cannot find package 'x' imported from`, CommonJS `Cannot find module 'x'`. */
const NODE_NOT_FOUND = /\bCannot find (?:package|module) '([^']+)'/;
const NPX_MISSING = /\bnpx canceled due to missing packages and no YES option: \[([^\]]*)\]/;
/** The same offline (in the jail, `npm_config_offline`): npm could not look the command's package up. */
const NPX_OFFLINE =
  /\bcode ENOTCACHED\b[\s\S]*?\brequest to https?:\/\/\S+?\/((?:@[^/\s]+\/)?[^/\s]+) failed/;

/**
 * What is missing when `check` failed because a package the repository's package.json declares is not installed
 * (`npm package left-pad`), or when `npx --no-install` found no package providing a command; undefined for anything
 * else. A relative or absolute path (a file of the repository) and a package the manifest does not declare (a
 * typo, or an import nobody added) are code problems. Pure.
 */
export function missingNodeDependency(check: Judged, declared: ReadonlySet<string>): string | undefined {
  const text = failureText(check);
  if (text === undefined) return undefined;
  // `npx --no-install biome`: no installed package provides the command (npm prints what it would have fetched).
  const offline = NPX_OFFLINE.exec(text)?.[1];
  if (offline !== undefined)
    return `the ${decodeURIComponent(offline)} command (npx --no-install found no installed package providing it)`;
  const npx = NPX_MISSING.exec(text)?.[1];
  if (npx !== undefined) {
    const wanted = [...npx.matchAll(/"([^"]+)"/g)].map((m) => m[1]!.replace(/(.)@[^@/]*$/, "$1"));
    return `the ${wanted.join(", ") || "npx"} command (npx --no-install found no installed package providing it)`;
  }
  const spec = NODE_NOT_FOUND.exec(text)?.[1];
  if (!spec || /^(?:\.|\/|[A-Za-z]:[\\/]|node:|file:)/.test(spec)) return undefined;
  const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
  return declared.has(name) ? `npm package ${name} (declared in package.json, not installed)` : undefined;
}

/** The judge of a Python repository (python, odibi): its own top-level modules are read once. */
export function pythonMissingDependencies(repo: string): MissingDependencyJudge {
  const local = localPythonModules(repo);
  return (c) => missingDependency(c, local);
}

/** The judge of a node repository: its package.json's declared packages are read once. */
export function nodeMissingDependencies(repo: string): MissingDependencyJudge {
  const declared = declaredNodeDependencies(repo);
  return (c) => missingNodeDependency(c, declared);
}
