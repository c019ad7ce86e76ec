import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { renameRetrying } from "../core/fs-retry.js";
import { describeEnd, runProcess } from "../exec/run-process.js";
import { mkdirGuarded, rmGuarded, writeFileAtomic } from "./fs-safe.js";
import type { Layout } from "./layout.js";
import { isPidAlive } from "./lock.js";
import type { SacredGuard } from "./sacred.js";

/**
 * A repository's third-party packages installed into a folder of the root, outside every repository copy (node's
 * `<root>/node_modules`, python's `<root>/python_packages`): built in a staging folder of this process, stamped with
 * the key of what it was installed from, then swapped in, so a reader never sees half of one install and half of
 * another, and a killed install leaves nothing that the next one does not remove.
 */

export type DepsOutcome =
  | { status: "none"; reason: string }
  | { status: "current"; dir: string }
  | { status: "installed"; dir: string; command: string; packages: number }
  | { status: "failed"; message: string; hint: string };

export interface DepsEnv {
  layout: Pick<Layout, "root" | "master" | "state" | "nodeModules" | "pythonPackages">;
  guard: SacredGuard;
  /** The environment's config, where an installer reads its settings (python: `python.extras`). */
  config?: { python?: { extras?: string[] } };
}

const STAMP = ".odibi-improve-deps.json";
const INSTALL_TIMEOUT_MS = 20 * 60_000;

/** The key a folder was installed from (its stamp), undefined when nothing is installed there. */
export function installedKey(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(dir, STAMP), "utf8")) as { key?: string }).key;
  } catch {
    return undefined;
  }
}

/** One key for everything installed outside the trees (node and python packages), for gate cache keys. */
export function installedDependencies(
  layout: Pick<Layout, "nodeModules" | "pythonPackages">,
): string | undefined {
  const keys = [installedKey(layout.nodeModules), installedKey(layout.pythonPackages)];
  return keys.some((k) => k !== undefined) ? keys.map((k) => k ?? "-").join("+") : undefined;
}

export interface StagedInstall {
  /** `node` / `python`: names the staging folders and the log lines. */
  kind: string;
  dest: string;
  key: string;
  /** Where from, for the log: "Master's package-lock.json". */
  from: string;
  /** Put the installer's inputs into the (empty) staging folder. */
  prepare(staging: string): void;
  file: string;
  args(staging: string): string[];
  /** The command as the log and the stamp show it. */
  command: string;
  env?: Record<string, string>;
  /** The folder the installer filled, moved to `dest`. */
  built(staging: string): string;
  /** What to say when the installer cannot be started. */
  missing: { message: string; hint: string };
  failureHint: string;
  count(dest: string): number;
}

export async function stagedInstall(
  { layout, guard }: DepsEnv,
  spec: StagedInstall,
  opts: { log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<DepsOutcome> {
  // Per process: a `gates` in another shell may install at the same moment as a run.
  const staging = path.join(layout.state, `${spec.kind}-deps-staging-${process.pid}`);
  removeLeftovers({ layout, guard });
  mkdirGuarded(guard, staging);
  try {
    spec.prepare(staging);
    const args = spec.args(staging);
    const command = spec.command;
    opts.log?.(`${spec.kind} dependencies: ${command} (from ${spec.from}) into ${spec.dest}`);
    const r = await runProcess(spec.file, args, {
      cwd: staging,
      timeoutMs: INSTALL_TIMEOUT_MS,
      signal: opts.signal,
      env: spec.env,
    });
    if (r.spawnError) return { status: "failed", ...spec.missing };
    if (r.exitCode !== 0) {
      const tail = `${r.stderr}\n${r.stdout}`.trim().split("\n").slice(-8).join("\n");
      return {
        status: "failed",
        message: `${command} failed (${describeEnd(r)}): the ${spec.kind} dependencies were not installed\n${tail}`,
        hint: spec.failureHint,
      };
    }
    const built = spec.built(staging);
    mkdirGuarded(guard, built);
    writeFileAtomic(
      guard,
      path.join(built, STAMP),
      `${JSON.stringify({ key: spec.key, command, at: new Date().toISOString() })}\n`,
    );
    const old = path.join(layout.state, `${spec.kind}-deps-old-${process.pid}-${Date.now()}`);
    if (existsSync(spec.dest)) {
      guard.assertWritable(spec.dest);
      renameRetrying(spec.dest, old);
    }
    guard.assertWritable(spec.dest);
    renameRetrying(built, spec.dest);
    rmGuarded(guard, old);
    const packages = spec.count(spec.dest);
    opts.log?.(`${spec.kind} dependencies: ${packages} package(s) installed`);
    return { status: "installed", dir: spec.dest, command, packages };
  } finally {
    rmGuarded(guard, staging);
  }
}

/** Staging and swapped-out folders of installs whose process is gone (killed mid-install). */
function removeLeftovers({ layout, guard }: Pick<DepsEnv, "layout" | "guard">): void {
  if (!existsSync(layout.state)) return;
  for (const name of readdirSync(layout.state)) {
    const pid = /^\w+-deps-(?:staging|old)-(\d+)/.exec(name)?.[1];
    if (pid !== undefined && (Number(pid) === process.pid || !isPidAlive(Number(pid))))
      rmGuarded(guard, path.join(layout.state, name));
  }
}
