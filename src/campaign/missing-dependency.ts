import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import type { Check } from "../core/types.js";

/**
 * Failures the environment causes rather than the code: a test or golden run that needs a Python package the
 * venv does not have (odibi's Spark tests without `odibi[spark]`). No code change fixes them (the honest ones
 * would be skips, which the policy gate rejects), so they are not work: they are reported with what to install.
 */

const NO_MODULE = /\b(?:ModuleNotFoundError|ImportError): No module named '([\w.]+)'/;
const PIP_HINT =
  /\b(?:ModuleNotFoundError|ImportError)\b[^\n]*?\bpip install ['"`]?([\w.-]+(?:\[[\w,.-]+\])?)/;

/**
 * What is missing when `check` failed for want of a package the repository does not provide itself, e.g.
 * "pip install odibi[spark]" or "module pyspark"; undefined for any other failure. A module of the repository
 * itself (`odibi.transfomers`, a typo in an import) is a code bug, not a missing dependency. Pure.
 */
export function missingDependency(
  check: Pick<Check, "status" | "message" | "detail">,
  localModules: ReadonlySet<string>,
): string | undefined {
  if (check.status !== "fail") return undefined;
  const text = [check.message, check.detail].filter(Boolean).join("\n");
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

/**
 * The missing-dependency judge for a repository of the given profile: python and odibi read the repository's own
 * top-level modules once; other profiles have none (every failure is work).
 */
export function missingDependencyJudge(
  profile: string,
  repo: string,
): ((c: Pick<Check, "status" | "message" | "detail">) => string | undefined) | undefined {
  if (profile !== "python" && profile !== "odibi") return undefined;
  const local = localPythonModules(repo);
  return (c) => missingDependency(c, local);
}
