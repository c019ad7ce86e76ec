import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { type DepsEnv, type DepsOutcome, installedKey, stagedInstall } from "./staged-install.js";

/**
 * A node repository's dependencies for Master and every sandbox: installed once into `<root>/node_modules`, from
 * Master's package.json and lockfile, outside any repository copy. Node resolves packages by walking up parent
 * folders, and `npm run` / `npx` find binaries in every ancestor's `node_modules/.bin`, so `<root>/master` and
 * `<root>/sandboxes/cycle_NNN` all see them without a file written into the trees (nothing to leak into a diff,
 * nothing for a recycled sandbox's `git clean` to remove). The jail mounts the folder read-only.
 *
 * `npm ci` (or `npm install` without a lockfile) runs with `--ignore-scripts`: no install script of the repository
 * or of a package runs outside the jail. Re-installed when package.json or the lockfile changes on Master.
 */

const MANIFEST = "package.json";
const LOCKFILES = ["npm-shrinkwrap.json", "package-lock.json"] as const;
/** Copied beside the manifest: a project `.npmrc` names its registry (never read for tokens by us). */
const EXTRA_FILES = [".npmrc"] as const;

/** What the dependencies are installed from: a hash of the manifest and lockfile, or undefined without a manifest. */
export function nodeDepsKey(repo: string): string | undefined {
  if (!existsSync(path.join(repo, MANIFEST))) return undefined;
  const h = createHash("sha256");
  for (const f of [MANIFEST, ...LOCKFILES, ...EXTRA_FILES]) {
    const p = path.join(repo, f);
    h.update(`${f}\0`);
    if (existsSync(p)) h.update(readFileSync(p));
    h.update("\0");
  }
  return h.digest("hex");
}

/** The packages a repository's package.json declares (all dependency kinds). Empty without a readable manifest. */
export function declaredNodeDependencies(repo: string): Set<string> {
  try {
    const pkg = JSON.parse(readFileSync(path.join(repo, MANIFEST), "utf8")) as Record<string, unknown>;
    const out = new Set<string>();
    for (const k of ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"]) {
      const deps = pkg[k];
      if (deps && typeof deps === "object") for (const name of Object.keys(deps)) out.add(name);
    }
    return out;
  } catch {
    return new Set();
  }
}

/**
 * Make `<root>/node_modules` match Master's manifest and lockfile. Idempotent and cheap when nothing changed.
 * Never throws for an install that fails (no npm, no registry): the outcome says what happened and how to fix it,
 * and gates then report the missing packages as failures that need a dependency, not a code change.
 */
export async function ensureNodeDependencies(
  env: DepsEnv,
  opts: { log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<DepsOutcome> {
  const master = env.layout.master;
  const key = nodeDepsKey(master);
  if (key === undefined) return { status: "none", reason: "Master has no package.json" };
  if (existsSync(path.join(master, "node_modules")))
    return { status: "none", reason: "Master has its own node_modules" };
  if (declaredNodeDependencies(master).size === 0)
    return { status: "none", reason: "package.json declares no dependencies" };
  const dest = env.layout.nodeModules;
  if (installedKey(dest) === key) return { status: "current", dir: dest };
  const lock = LOCKFILES.find((f) => existsSync(path.join(master, f)));
  const args = lock
    ? ["ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    : ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--no-package-lock"];
  return stagedInstall(
    env,
    {
      kind: "node",
      dest,
      key,
      from: `Master's ${lock ?? MANIFEST}`,
      prepare(staging) {
        for (const f of [MANIFEST, ...LOCKFILES, ...EXTRA_FILES])
          if (existsSync(path.join(master, f))) copyFileSync(path.join(master, f), path.join(staging, f));
      },
      file: "npm",
      args: () => args,
      command: `npm ${args.join(" ")}`,
      env: { npm_config_update_notifier: "false" },
      built: (staging) => path.join(staging, "node_modules"),
      missing: {
        message: "npm is not installed or not on PATH: the node dependencies were not installed",
        hint: "Install Node.js with npm (https://nodejs.org), then run the command again.",
      },
      failureHint:
        "Fix the cause (registry access, lockfile out of date with package.json), then run the command again.",
      count: countPackages,
    },
    opts,
  );
}

function countPackages(dir: string): number {
  try {
    const lock = JSON.parse(readFileSync(path.join(dir, ".package-lock.json"), "utf8")) as {
      packages?: Record<string, unknown>;
    };
    return Object.keys(lock.packages ?? {}).filter((k) => k.startsWith("node_modules/")).length;
  } catch {
    return 0;
  }
}
