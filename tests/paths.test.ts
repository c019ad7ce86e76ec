import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import envPaths from "env-paths";
import { describe, expect, it } from "vitest";
import { renameRetrying } from "../src/core/fs-retry.js";
import { isInside, type PathRules } from "../src/core/paths.js";
import { ImprovementEnvironment, sandboxGitConfig } from "../src/environment/environment.js";
import { git, statusLines } from "../src/environment/git.js";
import { SacredGuard } from "../src/environment/sacred.js";
import { userCache } from "../src/pyenv/python-env.js";
import { cli } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

const win: PathRules = { path: path.win32, caseInsensitive: true };
const posix: PathRules = { path: path.posix, caseInsensitive: false };

describe("isInside, by a platform's rules", () => {
  it("Windows: drive letters, both separators, case, UNC shares", () => {
    expect(isInside("D:\\odibi\\src\\x.py", "D:/odibi", win)).toBe(true);
    expect(isInside("d:/ODIBI/src", "D:\\Odibi", win)).toBe(true);
    expect(isInside("D:\\odibi", "D:\\odibi\\", win)).toBe(true);
    expect(isInside("D:\\odibi2\\x", "D:\\odibi", win)).toBe(false);
    expect(isInside("E:\\odibi\\x", "D:\\odibi", win)).toBe(false);
    expect(isInside("D:\\improve", "D:\\odibi", win)).toBe(false);
    expect(isInside("\\\\server\\share\\repo\\x", "\\\\server\\share\\repo", win)).toBe(true);
    expect(isInside("\\\\server\\share\\other", "\\\\server\\share\\repo", win)).toBe(false);
    expect(isInside("D:\\odibi\\..\\improve", "D:\\odibi", win)).toBe(false);
  });

  it("a name that starts with `..` is inside; `..` itself is not", () => {
    expect(isInside("/repo/..cache/x", "/repo", posix)).toBe(true);
    expect(isInside("D:\\odibi\\..hidden", "D:\\odibi", win)).toBe(true);
    expect(isInside("/repo/..", "/repo", posix)).toBe(false);
    expect(isInside("/", "/repo", posix)).toBe(false);
  });

  it("POSIX: case matters", () => {
    expect(isInside("/home/u/Repo/x", "/home/u/repo", posix)).toBe(false);
    expect(isInside("/home/u/repo/x", "/home/u/repo", posix)).toBe(true);
  });
});

it("the Sacred guard refuses a write under a folder whose name starts with `..`", () => {
  const sacred = tempDir();
  const guard = new SacredGuard(sacred);
  expect(() => guard.assertWritable(path.join(sacred, "..cache", "f"))).toThrow(/inside Sacred/);
  expect(() => guard.assertWritable(path.join(path.dirname(sacred), "elsewhere"))).not.toThrow();
});

describe("a user's global git configuration is not read (Windows users often set core.autocrlf=true)", () => {
  it("Master, sandboxes, snapshots and rollback keep LF files byte-identical under HOME/.gitconfig autocrlf=true", async () => {
    const base = tempDir();
    const home = path.join(base, "home");
    mkdirSync(home);
    writeFileSync(path.join(home, ".gitconfig"), "[core]\n\tautocrlf = true\n\teol = crlf\n");
    const env = { HOME: home, XDG_CONFIG_HOME: home, USERPROFILE: home };
    const sacred = await makeGitRepo(path.join(base, "repo"), { "pkg/a.py": "x = 1\ny = 2\n" });
    const root = path.join(base, "improve");
    const run = (args: string[]) => cli(["--root", root, ...args], env);
    expect((await cli(["init", "--source", sacred, "--root", root, "--profile", "generic"], env)).code).toBe(
      0,
    );
    const master = path.join(root, "master");
    expect(readFileSync(path.join(master, "pkg/a.py"), "utf8")).toBe("x = 1\ny = 2\n");
    const box = JSON.parse((await run(["sandbox", "create", "9", "--json"])).out);
    expect(readFileSync(path.join(box.path, "pkg/a.py"), "utf8")).toBe("x = 1\ny = 2\n");
    expect((await run(["sandbox", "destroy", "9"])).code).toBe(0);
    expect((await run(["snapshot", "--name", "s1"])).code).toBe(0);
    const rolled = await run(["rollback", "s1"]);
    expect(rolled.code, rolled.err).toBe(0);
    expect(readFileSync(path.join(master, "pkg/a.py"), "utf8")).toBe("x = 1\ny = 2\n");
    expect(await statusLines(master)).toEqual([]);
  });
});

describe("a sandbox's git config keeps the file-system probes of Master's clone", () => {
  it("core.symlinks and core.ignorecase as git set them (Windows, macOS) reach every sandbox, fresh or recycled", async () => {
    const base = tempDir();
    const sacred = await makeGitRepo(path.join(base, "repo"), { "a.py": "x = 1\n" });
    const env = await ImprovementEnvironment.init({ source: sacred, root: path.join(base, "improve") });
    // What git's clone probes write on a case-insensitive disk without symlinks.
    await git(env.layout.master, ["config", "core.ignorecase", "true"]);
    await git(env.layout.master, ["config", "core.symlinks", "false"]);
    const reopened = ImprovementEnvironment.open(env.root);
    const box = await reopened.createSandbox("1");
    const get = async (dir: string, k: string) => (await git(dir, ["config", "--local", "--get", k])).trim();
    expect(await get(box.path, "core.ignorecase")).toBe("true");
    expect(await get(box.path, "core.symlinks")).toBe("false");
    expect(await get(box.path, "core.autocrlf")).toBe("false");
    // A candidate's edit to the sandbox's config does not survive recycling; the probes do.
    await git(box.path, ["config", "core.ignorecase", "false"]);
    await reopened.destroySandbox(box, { recycle: true });
    const again = await reopened.createSandbox("2", { reuse: true });
    expect(await get(again.path, "core.ignorecase")).toBe("true");
    expect(sandboxGitConfig({})).not.toMatch(/ignorecase|symlinks/);
  });
});

describe("the tool's venv and downloads live in the per-user cache folder", () => {
  it("outside the package (an update keeps them), unless an older version's folder is still in the package", () => {
    const pkg = tempDir();
    const fresh = userCache(".venv", "venv", pkg);
    expect(fresh).toBe(path.join(envPaths("odibi-improve", { suffix: "" }).cache, "venv"));
    expect(isInside(fresh, pkg)).toBe(false);
    if (process.platform === "linux")
      expect(fresh).toBe(
        path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "odibi-improve", "venv"),
      );
    mkdirSync(path.join(pkg, ".venv"));
    expect(userCache(".venv", "venv", pkg)).toBe(path.join(pkg, ".venv"));
  });
});

describe("renames that wait out a file held open for a moment (Windows: antivirus, indexer, editor)", () => {
  const failing = (codes: string[]) => {
    const calls: string[] = [];
    return {
      calls,
      rename: (a: string, b: string) => {
        calls.push(`${a}->${b}`);
        const code = codes.shift();
        if (code) throw Object.assign(new Error(code), { code });
      },
    };
  };
  it("retries EBUSY, and on Windows EPERM and EACCES, until the rename goes through", () => {
    const f = failing(["EPERM", "EACCES", "EBUSY"]);
    renameRetrying("a", "b", { rename: f.rename, platform: "win32" });
    expect(f.calls).toHaveLength(4);
    const linux = failing(["EBUSY"]);
    renameRetrying("a", "b", { rename: linux.rename, platform: "linux" });
    expect(linux.calls).toHaveLength(2);
  });
  it("throws at once for a real error, and after its tries for one that does not pass", () => {
    const perm = failing(["EPERM"]);
    expect(() => renameRetrying("a", "b", { rename: perm.rename, platform: "linux" })).toThrow("EPERM");
    expect(perm.calls).toHaveLength(1);
    const busy = failing(["EBUSY", "EBUSY", "EBUSY"]);
    expect(() => renameRetrying("a", "b", { rename: busy.rename, platform: "win32", tries: 3 })).toThrow(
      "EBUSY",
    );
    expect(busy.calls).toHaveLength(3);
  });
  it("renames a real file", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "a"), "x");
    renameRetrying(path.join(dir, "a"), path.join(dir, "b"));
    expect(readFileSync(path.join(dir, "b"), "utf8")).toBe("x");
  });
});
