import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * Toolchains and dependency caches that live in the user's HOME, which the jail does not show (its HOME is private
 * and empty): rustup's `~/.cargo` and `~/.rustup` (cargo itself is there), Go's module cache. The jail mounts them
 * read-only, with the variables that point the tools at them. Nothing is fetched inside the jail (it has no
 * network): cargo runs offline and go with GOPROXY=off, so a repository builds from what this machine already
 * has (any earlier build or `cargo fetch` / `go mod download` outside the jail). Pure apart from `existsSync`. The
 * rust and go profiles (src/profiles/) use them.
 */
export interface ToolchainMounts {
  readOnly: string[];
  env: Record<string, string>;
}

export interface ToolchainOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** A folder writable in the jail for this cycle (its gate output folder): Go's build cache goes there. */
  scratch?: string;
}

function mounts(
  opts: ToolchainOptions,
  add: (
    mount: (name: string, dir: string) => void,
    vars: Record<string, string>,
    env: NodeJS.ProcessEnv,
    home: string,
  ) => void,
): ToolchainMounts {
  const env = opts.env ?? process.env;
  const home = opts.home ?? os.homedir();
  const readOnly: string[] = [];
  const vars: Record<string, string> = {};
  const mount = (name: string, dir: string) => {
    if (!existsSync(dir)) return;
    readOnly.push(dir);
    vars[name] = dir;
  };
  add(mount, vars, env, home);
  return { readOnly, env: vars };
}

/** Rust: rustup's `~/.cargo` and `~/.rustup`, cargo offline. */
export function rustToolchain(opts: ToolchainOptions = {}): ToolchainMounts {
  return mounts(opts, (mount, vars, env, home) => {
    mount("CARGO_HOME", env.CARGO_HOME || path.join(home, ".cargo"));
    mount("RUSTUP_HOME", env.RUSTUP_HOME || path.join(home, ".rustup"));
    vars.CARGO_NET_OFFLINE = "true";
  });
}

/** Go: the module cache, no module or toolchain download, the build cache in `scratch`. */
export function goToolchain(opts: ToolchainOptions = {}): ToolchainMounts {
  return mounts(opts, (mount, vars, env, home) => {
    const gopath = (env.GOPATH || path.join(home, "go")).split(path.delimiter)[0]!;
    mount("GOMODCACHE", env.GOMODCACHE || path.join(gopath, "pkg", "mod"));
    // No module download and no toolchain download: a clear error instead of a network timeout.
    vars.GOPROXY = "off";
    vars.GOTOOLCHAIN = "local";
    // The jail's /tmp and HOME are new for every command: a build cache there means compiling the standard library
    // for each one (~25 s). In the cycle's own output folder it is shared by that cycle's commands only, so no
    // candidate can leave cached build results for another cycle's gates.
    if (opts.scratch) vars.GOCACHE = path.join(opts.scratch, "go-build");
  });
}
