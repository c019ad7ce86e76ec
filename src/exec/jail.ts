import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { MissingTool, SacredViolation } from "../core/errors.js";
import { removeRetrying } from "../core/fs-retry.js";
import { isInside } from "../core/paths.js";
import { type CommandRunner, type RunOptions, type RunResult, runProcess } from "./run-process.js";

/**
 * The jail: every command that executes candidate code (gate commands, fixers, the LLM's "run" tool) goes through a
 * runner made here. On Linux it is bubblewrap: the system read-only, the sandbox read-write (its `.git` read-only),
 * golden inputs / venv / node_modules read-only, a private size-capped /tmp and HOME, no network, its own PID
 * namespace (nothing outlives the command), an unprivileged uid, and nothing else of the machine visible — Sacred,
 * Master, the environment root, the user's HOME and the run's environment variables are simply not there.
 */

export type IsolationSetting = "bwrap" | "none" | "auto";
export type IsolationMode = "bwrap" | "none";

export interface IsolationProbe {
  /** bwrap started a jail with the exact flags the runner uses. */
  available: boolean;
  bwrap: string;
  version?: string;
  /** Why it is unavailable (not installed, user namespaces refused, not Linux). */
  reason?: string;
}

export interface IsolationDecision {
  mode: IsolationMode;
  /** Shown in doctor, at the start of every run, in status and reports whenever candidate code runs unjailed. */
  warning?: string;
  probe: IsolationProbe;
}

export interface JailOptions {
  mode: IsolationMode;
  /** The sandbox: the only place candidate code may write (its `.git` stays read-only). */
  sandbox: string;
  /** Visible read-only: golden inputs, the venv, node_modules, tool folders. A venv's base Python is added. */
  readOnly?: string[];
  /** Visible read-write besides the sandbox: the cycle's gate output folder (junit xml, golden outputs). */
  readWrite?: string[];
  /**
   * Paths that must never be visible (Sacred). A mount that is one of them, inside one or a parent of one is refused
   * (SacredViolation); under a system folder (a repository in /opt) they are covered with an empty tmpfs.
   */
  hide?: string[];
  /** Size cap of the private /tmp (a tmpfs, i.e. memory). Default 512 MiB. */
  tmpSizeBytes?: number;
  bwrap?: string;
  /** The runner that starts bwrap (default runProcess). */
  inner?: CommandRunner;
}

const DEFAULT_TMP_BYTES = 512 * 1024 * 1024;
/** Inside the jail: HOME lives in the private /tmp, so nothing of the user's HOME is reachable. */
export const JAIL_HOME = "/tmp/home";
/** The system, mounted read-only. Everything else of the root is absent. */
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"];
/**
 * The only variables of the caller's environment that reach the jail (no API keys, no agent sockets), with every
 * `LC_*`. bwrap itself is started with just these: its own process stays visible inside the PID namespace, and
 * `/proc/1/environ` would show whatever it inherited.
 */
const PASSED_ENV = ["PATH", "LANG", "LANGUAGE", "TZ", "TERM"];
/**
 * The uid and gid jailed commands run as (`nobody`). In its own user namespace the caller's uid maps to this one,
 * so files the caller owns (the sandbox, the gate output folder) appear owned by it and stay writable, while a
 * caller running as root gives candidate code no root rights over anything else.
 */
export const JAIL_UID = 65534;
/** The namespace, identity and privilege flags of every jail (mounts and environment follow per run). */
const JAIL_FLAGS = [
  "--die-with-parent",
  "--new-session",
  "--unshare-user",
  "--uid",
  String(JAIL_UID),
  "--gid",
  String(JAIL_UID),
  // No nested user namespace: inside one, candidate code would have every capability again.
  "--disable-userns",
  "--unshare-ipc",
  "--unshare-pid",
  "--unshare-net",
  "--unshare-uts",
  "--unshare-cgroup-try",
  "--cap-drop",
  "ALL",
];

/**
 * What isolation a gate result was computed under, for the gate cache key: the mode and, jailed, a digest of the
 * jail's fixed flags, system mounts and passed variables, so a result computed unjailed (or under older flags) is
 * never served to a jailed run.
 */
export function isolationFingerprint(mode: IsolationMode): string {
  if (mode === "none") return "none";
  const digest = createHash("sha256")
    .update(JSON.stringify([JAIL_FLAGS, SYSTEM_DIRS, PASSED_ENV, JAIL_HOME]))
    .digest("hex");
  return `bwrap:${digest.slice(0, 16)}`;
}

function real(p: string): string {
  try {
    return realpathSync.native(p);
  } catch {
    return path.resolve(p);
  }
}

/** A venv's interpreter lives elsewhere (`home =` in pyvenv.cfg, e.g. /root/.pyenv/versions/3.11.7/bin). */
function venvBasePrefix(dir: string): string | undefined {
  const cfg = path.join(dir, "pyvenv.cfg");
  if (!existsSync(cfg)) return undefined;
  const home = /^home\s*=\s*(.+)$/m.exec(readFileSync(cfg, "utf8"))?.[1]?.trim();
  return home ? real(path.dirname(home)) : undefined;
}

/** Shared clones borrow objects from Master: mount those read-only so git still works inside. */
function gitAlternates(sandbox: string): string[] {
  const file = path.join(sandbox, ".git", "objects", "info", "alternates");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => path.resolve(path.join(sandbox, ".git", "objects"), l));
}

/** The allow-listed part of this process's environment: all bwrap starts with, and all it passes on. */
export function jailProcessEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env))
    if (v !== undefined && (PASSED_ENV.includes(k) || k.startsWith("LC_"))) vars[k] = v;
  return vars;
}

function envArgs(env: Record<string, string | undefined> | undefined, extendEnv: boolean): string[] {
  const vars: Record<string, string> = extendEnv ? jailProcessEnv() : {};
  for (const [k, v] of Object.entries(env ?? {})) if (v !== undefined) vars[k] = v;
  vars.HOME = JAIL_HOME;
  vars.TMPDIR = "/tmp";
  // No network in the jail: npm (npx --no-install looking up a command's package) fails at once instead of
  // retrying DNS for a minute.
  vars.npm_config_offline = "true";
  const args = ["--clearenv"];
  for (const [k, v] of Object.entries(vars)) args.push("--setenv", k, v);
  return args;
}

/** A path as given and as it really is (a symlinked Sacred or mount must be caught either way). */
function forms(p: string): string[] {
  return [...new Set([path.resolve(p), real(p)])];
}

const systemDirs = (): string[] => SYSTEM_DIRS.filter((d) => existsSync(d));

/**
 * The folders mounted besides the system: read-only (with a venv's base Python and the sandbox's git alternates;
 * none inside a system folder, which is mounted whole) and read-write. Throws SacredViolation when one of them is a
 * hidden path, lies inside one or contains one.
 */
function jailMounts(opts: JailOptions): { ro: string[]; rw: string[] } {
  const ro = new Set<string>();
  for (const p of opts.readOnly ?? []) {
    if (!existsSync(p)) continue;
    ro.add(path.resolve(p));
    ro.add(real(p));
    const base = venvBasePrefix(p);
    if (base) ro.add(base);
  }
  for (const p of gitAlternates(opts.sandbox)) if (existsSync(p)) ro.add(real(p));
  const system = systemDirs();
  for (const p of ro) if (system.some((d) => isInside(p, d))) ro.delete(p);
  const rw = [opts.sandbox, ...(opts.readWrite ?? [])].filter((p) => existsSync(p));
  for (const h of opts.hide ?? [])
    for (const m of [...ro, ...rw])
      for (const hf of forms(h))
        for (const mf of forms(m))
          if (isInside(mf, hf) || isInside(hf, mf))
            throw new SacredViolation(
              `refused to start a jail that mounts ${m}: ${isInside(mf, hf) ? "it is inside" : "it contains"} ${h}, which must never be visible to candidate code. Keep the environment root, the venv and its Python outside Sacred and Sacred outside them.`,
            );
  return { ro: [...ro], rw };
}

/** The bwrap argv (before `--` and the command) for one run. Pure apart from reading which paths exist. */
export function bwrapArgs(opts: JailOptions, run: Pick<RunOptions, "cwd" | "env" | "extendEnv">): string[] {
  const { ro, rw } = jailMounts(opts);
  const a: string[] = [...JAIL_FLAGS];
  const mounted = systemDirs();
  for (const d of mounted) a.push("--ro-bind", d, d);
  a.push("--proc", "/proc", "--dev", "/dev");
  a.push("--size", String(opts.tmpSizeBytes ?? DEFAULT_TMP_BYTES), "--tmpfs", "/tmp", "--dir", JAIL_HOME);
  for (const p of ro) a.push("--ro-bind", p, p);
  for (const p of rw) {
    a.push("--bind", real(p), path.resolve(p));
    mounted.push(path.resolve(p));
  }
  // Candidate code must not plant hooks or config (core.fsmonitor, hooks/) that the tool's own git would run unjailed.
  const dotGit = path.join(opts.sandbox, ".git");
  if (existsSync(dotGit)) a.push("--ro-bind", real(dotGit), path.resolve(dotGit));
  // Only system folders can still contain a hidden path (jailMounts refused every other overlap).
  for (const h of opts.hide ?? [])
    for (const p of forms(h))
      if (existsSync(p) && mounted.some((m) => isInside(p, m))) a.push("--tmpfs", p, "--remount-ro", p);
  a.push(...envArgs(run.env, run.extendEnv ?? true));
  a.push("--chdir", path.resolve(run.cwd));
  return a;
}

/**
 * A CommandRunner that runs every command inside the jail (mode `bwrap`), or as it is (mode `none`: only when the
 * decision allowed it, with its warning shown). Timeouts and output caps are the inner runner's: killing bwrap
 * kills the jail's PID namespace with it (`--die-with-parent`), so no candidate process outlives the command.
 */
export function createJailedRunner(opts: JailOptions): CommandRunner {
  const inner = opts.inner ?? runProcess;
  if (opts.mode === "none") return inner;
  jailMounts(opts); // refuse a jail that would show Sacred now, not at its first command
  const bwrap = opts.bwrap ?? "bwrap";
  return async (file: string, args: readonly string[], run: RunOptions): Promise<RunResult> => {
    const jailArgs = bwrapArgs(opts, run);
    const r = await inner(bwrap, [...jailArgs, "--", file, ...args], {
      ...run,
      env: jailProcessEnv(),
      extendEnv: false,
    });
    // Report the command the caller asked for, not the bwrap wrapper.
    return { ...r, file, args: [...args] };
  };
}

/**
 * Start a real jail with the runner's own flags and see it work. Says why when it cannot (bwrap missing, user
 * namespaces refused by the kernel or the container, not Linux).
 */
export async function probeIsolation(opts: { bwrap?: string } = {}): Promise<IsolationProbe> {
  const bwrap = opts.bwrap ?? "bwrap";
  if (process.platform !== "linux")
    return {
      available: false,
      bwrap,
      reason: `bubblewrap is Linux-only (this is ${process.platform}); see docs/safety.md for the Windows fallback`,
    };
  const v = await runProcess(bwrap, ["--version"], { cwd: os.tmpdir(), timeoutMs: 15_000 });
  if (v.spawnError || v.exitCode !== 0)
    return {
      available: false,
      bwrap,
      reason: "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)",
    };
  const version = v.stdout.trim();
  const dir = mkdtempSync(path.join(os.tmpdir(), "oi-jail-probe-"));
  try {
    const run = createJailedRunner({ mode: "bwrap", sandbox: dir, bwrap });
    const r = await run("/bin/sh", ["-c", "echo jail-ok"], { cwd: dir, timeoutMs: 15_000 });
    if (r.exitCode === 0 && r.stdout.includes("jail-ok")) return { available: true, bwrap, version };
    const why = (r.stderr.trim() || r.stdout.trim()).split("\n")[0] ?? "";
    const [major = 0, minor = 0] = (/(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
    if (major === 0 && minor < 8)
      return {
        available: false,
        bwrap,
        version,
        reason: `${version} is too old: the jail needs bubblewrap 0.8 or newer (--disable-userns); ${why || `exit ${r.exitCode}`}`,
      };
    return {
      available: false,
      bwrap,
      version,
      reason: `bwrap is installed but cannot create a jail here (${why || `exit ${r.exitCode}`}); user namespaces are probably restricted (kernel.unprivileged_userns_clone, a container without --privileged or seccomp/AppArmor rules)`,
    };
  } finally {
    removeRetrying(dir);
  }
}

export const NO_ISOLATION_WARNING =
  "isolation: none — candidate code runs with your full user rights (network, HOME, every file you can write)";

/**
 * Which isolation a run uses, from the config setting and the probe. Pure.
 *
 * `auto` falls back to no jail only while every candidate comes from deterministic fixers (ruff, the profile's
 * fix commands: your own code, rewritten by your own tools). When a model writes candidates (`llm: true`), `auto`
 * without a working jail refuses: running a model's code unjailed must be chosen explicitly (`isolation: none`).
 */
export function decideIsolation(
  setting: IsolationSetting,
  probe: IsolationProbe,
  opts: { llm?: boolean } = {},
): IsolationDecision {
  if (setting === "none")
    return { mode: "none", warning: `${NO_ISOLATION_WARNING} (chosen in config)`, probe };
  if (probe.available) return { mode: "bwrap", probe };
  const why = probe.reason ?? "bubblewrap is unavailable";
  if (setting === "bwrap")
    throw new MissingTool(
      "bwrap (a working bubblewrap jail)",
      `${why}. Fix that, or set \`isolation: none\` in config.yaml to run candidate code unjailed (you will be warned in status and reports).`,
    );
  if (opts.llm)
    throw new MissingTool(
      "bwrap",
      "On Linux: `apt-get install bubblewrap` (on Windows: WSL2, see docs/safety.md). Or run without the model " +
        "(`--no-llm`), or set `isolation: none` in config.yaml to run the model's code unjailed knowingly.",
      `refusing to run an LLM's code without a jail: ${why}`,
    );
  return {
    mode: "none",
    warning: `${NO_ISOLATION_WARNING}: ${why} (deterministic fixers only; an LLM run would refuse)`,
    probe,
  };
}

/** Probe and decide: what `doctor` and the start of every run call. */
export async function resolveIsolation(
  setting: IsolationSetting,
  opts: { bwrap?: string; llm?: boolean } = {},
): Promise<IsolationDecision> {
  return decideIsolation(setting, await probeIsolation(opts), { llm: opts.llm });
}

/** One line for logs, doctor, status and reports. */
export function describeIsolation(d: IsolationDecision): string {
  return d.mode === "bwrap"
    ? `isolation: bwrap (${d.probe.version ?? "bubblewrap"}): no network, private /tmp and HOME, read-only system, only the sandbox writable`
    : (d.warning ?? NO_ISOLATION_WARNING);
}
