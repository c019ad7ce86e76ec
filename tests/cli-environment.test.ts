import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { takeFingerprint } from "../src/environment/sacred.js";
import { runProcess } from "../src/exec/run-process.js";
import { CLI, makeGitRepo, tempDir } from "./helpers.js";

async function cli(args: string[], cwd = process.cwd()) {
  const r = await runProcess(process.execPath, [CLI, ...args], {
    cwd,
    timeoutMs: 120_000,
    env: { ODIBI_IMPROVE_ROOT: undefined },
  });
  return { code: r.exitCode, out: r.stdout, err: r.stderr };
}

describe("CLI: environment commands and exit codes", () => {
  it("init, status, sandbox, snapshot, rollback through the real binary", async () => {
    const base = tempDir();
    const sacred = await makeGitRepo(path.join(base, "src ä"), {
      "a.py": "import os\n",
      "pyproject.toml": '[project]\nname = "x"\n',
    });
    const fp = takeFingerprint(sacred).digest;
    const root = path.join(base, "root");
    expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
    const st = await cli(["--root", root, "status", "--json"]);
    expect(st.code).toBe(0);
    const status = JSON.parse(st.out);
    expect(status.profile).toBe("python");
    expect(status.master.dirty).toBe(0);
    expect((await cli(["--root", root, "sandbox", "create", "7"])).out).toContain("cycle_007");
    expect(JSON.parse((await cli(["--root", root, "--json", "sandbox", "list"])).out).sandboxes[0].id).toBe(
      "cycle_007",
    );
    expect((await cli(["--root", root, "sandbox", "destroy", "7"])).code).toBe(0);
    expect(existsSync(path.join(root, "sandboxes", "cycle_007"))).toBe(false);
    expect((await cli(["--root", root, "snapshot", "--name", "s1"])).code).toBe(0);
    expect((await cli(["--root", root, "snapshots"])).out).toContain("s1");
    expect((await cli(["--root", root, "rollback", "s1"])).code).toBe(0);
    const missing = await cli(["--root", root, "rollback", "nope"]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('no snapshot named "nope"');
    expect(takeFingerprint(sacred).digest).toBe(fp);
  });

  it("usage and config errors exit 2 with file:line:col; schema is JSON Schema", async () => {
    const base = tempDir();
    const r1 = await cli(["init", "--source", path.join(base, "missing"), "--root", path.join(base, "r")]);
    expect(r1.code).toBe(2);
    expect(r1.err).toMatch(/does not exist/);
    const r2 = await cli(["status"]);
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/--root/);
    const sacred = await makeGitRepo(path.join(base, "s"), { "x.txt": "x" });
    const root = path.join(base, "r");
    await cli(["init", "--source", sacred, "--root", root]);
    writeFileSync(
      path.join(root, "config.yaml"),
      `${readFileSync(path.join(root, "config.yaml"), "utf8")}bogus: 1\n`,
    );
    const r3 = await cli(["--root", root, "status"]);
    expect(r3.code).toBe(2);
    expect(r3.err).toMatch(/config\.yaml:\d+:1: bogus: unknown key/);
    const r4 = await cli(["--root", path.join(base, "not-an-env"), "status"]);
    expect(r4.code).toBe(2);
    expect(r4.err).toMatch(/not an odibi-improve environment/);
    const schema = JSON.parse((await cli(["schema"])).out);
    expect(schema.properties.gates.properties.require_ruff_clean.type).toBe("boolean");
    expect((await cli(["frobnicate"])).code).toBe(2);
  });

  it("doctor names every tool and how to install what is missing", async () => {
    const r = await cli(["--json", "doctor"]);
    const checks = JSON.parse(r.out).checks as Array<{
      name: string;
      ok: boolean;
      install?: string;
      profiles?: string[];
    }>;
    expect(checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(["git", "npm", "python", "pytest", "ruff", "odibi", "cargo", "go", "isolation"]),
    );
    // Each profile's own tools come from its plugin, named once with the profiles that need them.
    expect(checks.find((c) => c.name === "ruff")?.profiles).toEqual(["odibi", "python"]);
    expect(checks.find((c) => c.name === "npm")?.profiles).toEqual(["node"]);
    expect(checks.find((c) => c.name === "git")?.profiles).toBeUndefined();
    for (const c of checks) if (!c.ok) expect(c.install).toBeTruthy();
    expect(checks.find((c) => c.name === "git")!.ok).toBe(true);
  });
});

describe("end to end on the real odibi source (sdist from PyPI, as a plain folder)", () => {
  it("init, sandbox create/destroy, snapshot/rollback; Sacred byte-identical", async () => {
    const base = tempDir();
    const sacred = path.join(base, "odibi");
    cpSync(inject("odibiSource"), sacred, { recursive: true });
    const fp = takeFingerprint(sacred).digest;
    const root = path.join(base, "improve_odibi");
    const init = await cli(["--json", "init", "--source", sacred, "--root", root]);
    expect(init.code).toBe(0);
    expect(JSON.parse(init.out).profile).toBe("odibi");
    expect((await cli(["--root", root, "sandbox", "create", "1"])).code).toBe(0);
    expect(existsSync(path.join(root, "sandboxes", "cycle_001", "pyproject.toml"))).toBe(true);
    expect((await cli(["--root", root, "sandbox", "destroy", "1"])).code).toBe(0);
    expect((await cli(["--root", root, "snapshot", "--name", "base"])).code).toBe(0);
    expect(existsSync(path.join(root, "snapshots", "base.tar.gz"))).toBe(true);
    expect((await cli(["--root", root, "rollback", "base"])).code).toBe(0);
    expect(takeFingerprint(sacred).digest).toBe(fp);
    // init installs the extras odibi's tests use into python_packages (about a minute from PyPI).
  }, 300_000);
});
