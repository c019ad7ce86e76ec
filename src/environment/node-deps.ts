import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readdirSync, readFileSync, renameSync } from "node:fs";
import path from "node:path";
import { describeEnd, type RunResult, runProcess } from "../exec/run-process.js";
import { mkdirGuarded, rmGuarded, writeFileAtomic } from "./fs-safe.js";
import type { Layout } from "./layout.js";
import { isPidAlive } from "./lock.js";
import type { SacredGuard } from "./sacred.js";

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
const STAMP = ".odibi-improve-deps.json";
const INSTALL_TIMEOUT_MS = 20 * 60_000;

export type NodeDepsOutcome =
  | { status: "none"; reason: string }
  | { status: "current"; dir: string }
  | { status: "installed"; dir: string; command: string; packages: number }
  | { status: "failed"; message: string; hint: string };

interface Env {
  layout: Pick<Layout, "root" | "master" | "state" | "nodeModules">;
  guard: SacredGuard;
}

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

/** The key of the packages installed in `<root>/node_modules` (undefined when none are), for gate cache keys. */
export function installedNodeDependencies(layout: Pick<Layout, "nodeModules">): string | undefined {
  return installedKey(layout.nodeModules);
}

function installedKey(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(dir, STAMP), "utf8")) as { key?: string }).key;
  } catch {
    return undefined;
  }
}

/** True when Master's package.json declares any dependency (a manifest with none needs no install). */
function declaresDependencies(repo: string): boolean {
  return declaredNodeDependencies(repo).size > 0;
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
  env: Env,
  opts: { log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<NodeDepsOutcome> {
  const { layout, guard } = env;
  const master = layout.master;
  const key = nodeDepsKey(master);
  if (key === undefined) return { status: "none", reason: "Master has no package.json" };
  if (existsSync(path.join(master, "node_modules")))
    return { status: "none", reason: "Master has its own node_modules" };
  if (!declaresDependencies(master))
    return { status: "none", reason: "package.json declares no dependencies" };
  const dest = layout.nodeModules;
  if (installedKey(dest) === key) return { status: "current", dir: dest };

  const lock = LOCKFILES.find((f) => existsSync(path.join(master, f)));
  const args = lock
    ? ["ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    : ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--no-package-lock"];
  const command = `npm ${args.join(" ")}`;
  // Per process: a `gates` in another shell may install at the same moment as a run.
  const staging = path.join(layout.state, `node-deps-staging-${process.pid}`);
  removeLeftovers(env);
  mkdirGuarded(guard, staging);
  try {
    for (const f of [MANIFEST, ...LOCKFILES, ...EXTRA_FILES])
      if (existsSync(path.join(master, f))) copyFileSync(path.join(master, f), path.join(staging, f));
    opts.log?.(`node dependencies: ${command} (from Master's ${lock ?? MANIFEST}) into ${dest}`);
    const r: RunResult = await runProcess("npm", args, {
      cwd: staging,
      timeoutMs: INSTALL_TIMEOUT_MS,
      signal: opts.signal,
      env: { npm_config_update_notifier: "false" },
    });
    if (r.spawnError)
      return {
        status: "failed",
        message: "npm is not installed or not on PATH: the node dependencies were not installed",
        hint: "Install Node.js with npm (https://nodejs.org), then run the command again.",
      };
    if (r.exitCode !== 0) {
      const tail = `${r.stderr}\n${r.stdout}`.trim().split("\n").slice(-8).join("\n");
      return {
        status: "failed",
        message: `${command} failed (${describeEnd(r)}): the node dependencies were not installed\n${tail}`,
        hint: "Fix the cause (registry access, lockfile out of date with package.json), then run the command again.",
      };
    }
    const built = path.join(staging, "node_modules");
    writeFileAtomic(
      guard,
      path.join(built, STAMP),
      `${JSON.stringify({ key, command, at: new Date().toISOString() })}\n`,
    );
    // Swap: the old folder is moved aside first, so a reader never sees half of one and half of the other.
    const old = path.join(layout.state, `node-deps-old-${process.pid}-${Date.now()}`);
    if (existsSync(dest)) {
      guard.assertWritable(dest);
      renameSync(dest, old);
    }
    guard.assertWritable(dest);
    renameSync(built, dest);
    rmGuarded(guard, old);
  } finally {
    rmGuarded(guard, staging);
  }
  const packages = countPackages(dest);
  opts.log?.(`node dependencies: ${packages} package(s) installed`);
  return { status: "installed", dir: dest, command, packages };
}

/** Staging and swapped-out folders of installs whose process is gone (killed mid-install). */
function removeLeftovers({ layout, guard }: Env): void {
  if (!existsSync(layout.state)) return;
  for (const name of readdirSync(layout.state)) {
    const pid = /^node-deps-(?:staging|old)-(\d+)/.exec(name)?.[1];
    if (pid !== undefined && (Number(pid) === process.pid || !isPidAlive(Number(pid))))
      rmGuarded(guard, path.join(layout.state, name));
  }
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
