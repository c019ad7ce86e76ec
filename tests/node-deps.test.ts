import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ImprovementEnvironment } from "../src/environment/environment.js";
import { git, statusLines } from "../src/environment/git.js";
import { ensureNodeDependencies } from "../src/environment/node-deps.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { probeIsolation } from "../src/exec/jail.js";
import { runProcess } from "../src/exec/run-process.js";
import { cli, jsonl } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * The node profile on a repository with real npm dependencies (from the registry): `ms` imported by the code, and
 * biome as the lint tool, run with `npx --no-install` as the profile's default commands do.
 */
const BIOME_VERSION = (
  JSON.parse(
    readFileSync(
      path.resolve(import.meta.dirname, "..", "node_modules", "@biomejs", "biome", "package.json"),
      "utf8",
    ),
  ) as { version: string }
).version;

const manifest = (msVersion: string) =>
  `${JSON.stringify(
    {
      name: "durations",
      version: "1.0.0",
      private: true,
      type: "module",
      scripts: { test: "node --test" },
      dependencies: { ms: msVersion },
      devDependencies: { "@biomejs/biome": BIOME_VERSION },
    },
    null,
    2,
  )}\n`;

const FILES: Record<string, string> = {
  ".gitignore": "node_modules/\n",
  "biome.json": `{ "formatter": { "enabled": false } }\n`,
  // One lint error biome fixes safely (useConst); the test needs the `ms` package.
  "src/dur.js": `import ms from "ms";\n\nexport function toMs(text) {\n  let value = ms(text);\n  return value;\n}\n`,
  "test/dur.test.js": `import assert from "node:assert/strict";\nimport { test } from "node:test";\nimport { toMs } from "../src/dur.js";\n\ntest("parses minutes", () => {\n  assert.equal(toMs("2m"), 120000);\n});\n`,
};

/** A node repository with package.json + a real lockfile (`npm install --package-lock-only`), committed. */
async function nodeRepo(dir: string, lockFor = "2.1.3", declare = lockFor): Promise<string> {
  await makeGitRepo(dir, { ...FILES, "package.json": manifest(lockFor) });
  const lock = await runProcess(
    "npm",
    ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"],
    {
      cwd: dir,
      timeoutMs: 180_000,
    },
  );
  expect(lock.exitCode, lock.stderr).toBe(0);
  // A manifest that no longer matches its lockfile (edited by hand, lockfile not refreshed): `npm ci` refuses.
  if (declare !== lockFor) writeFileSync(path.join(dir, "package.json"), manifest(declare));
  await git(dir, ["add", "-A"]);
  await git(dir, ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "lockfile"]);
  return dir;
}

describe("node profile: the repository's packages", () => {
  it("init installs them into <root>/node_modules; Master, sandboxes and the jail use them; no tree is written", async () => {
    const base = tempDir("oi node deps ");
    const sacred = await nodeRepo(path.join(base, "durations"));
    const fp = takeFingerprint(sacred).digest;
    const root = path.join(base, "improve");

    const init = await cli(["init", "--source", sacred, "--root", root]);
    expect(init.code, init.err).toBe(0);
    expect(init.out).toContain("Profile: node");
    expect(init.out).toMatch(
      /node dependencies: npm ci --ignore-scripts .* \(from Master's package-lock\.json\)/,
    );
    expect(existsSync(path.join(root, "node_modules", "ms", "package.json"))).toBe(true);
    expect(existsSync(path.join(root, "node_modules", ".bin", "biome"))).toBe(true);

    // The gates on Master find `ms` (tests pass) and biome (lint runs and finds the one error).
    const gates = await cli(["--root", root, "gates"]);
    expect(gates.out).toMatch(/\n\s*lint\s+full\s+1\s+0\s+1\b/);
    expect(gates.out).toMatch(/\n\s*tests\s+full\s+1\s+1\s+0\b/);
    expect(gates.out).toContain("lint/style/useConst:src/dur.js:4:3");
    expect(gates.out).toContain("[tests] node --test");
    expect(gates.out).not.toContain("node dependencies: npm"); // already current: no second install

    // A campaign (jailed when bwrap is there): the fixer's change passes lint and the tests in a sandbox.
    const run = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "3", "--convergence", "1"]);
    expect(run.code, run.err).toBe(0);
    if ((await probeIsolation()).available) expect(run.out).toContain("isolation: bwrap");
    const master = path.join(root, "master");
    expect(readFileSync(path.join(master, "src/dur.js"), "utf8")).toContain("const value = ms(text);");
    const lessons = jsonl(path.join(root, "memory", "lessons.jsonl"));
    expect(lessons.filter((l) => l.outcome === "promoted")).toHaveLength(1);
    const commits = (await git(master, ["log", "--format=%s", "sacred..HEAD"])).trim().split("\n");
    expect(commits).toEqual([expect.stringContaining("lint/style/useConst:src/dur.js")]);
    // Nothing of the packages is in Master (files or commit), nor in Sacred.
    expect(await statusLines(master)).toEqual([]);
    expect(existsSync(path.join(master, "node_modules"))).toBe(false);
    expect(await git(master, ["show", "--stat", "--format=", "HEAD"])).not.toContain("node_modules");
    expect(existsSync(path.join(sacred, "node_modules"))).toBe(false);
    expect(takeFingerprint(sacred).digest).toBe(fp);

    // Idempotent, and re-installed when Master's manifest or lockfile changes.
    const env = ImprovementEnvironment.open(root);
    expect((await ensureNodeDependencies(env)).status).toBe("current");
    const stamp = () =>
      JSON.parse(readFileSync(path.join(root, "node_modules", ".odibi-improve-deps.json"), "utf8"));
    const first = stamp();
    expect(first.command).toBe("npm ci --ignore-scripts --no-audit --no-fund");
    const pkg = path.join(master, "package.json");
    writeFileSync(pkg, readFileSync(pkg, "utf8").replace('"version": "1.0.0"', '"version": "1.0.1"'));
    // What an install killed midway left (its process is gone) is removed by the next one.
    const leftover = path.join(root, ".odibi-improve", "node-deps-staging-2147483646");
    mkdirSync(path.join(leftover, "node_modules"), { recursive: true });
    try {
      expect(await ensureNodeDependencies(env)).toMatchObject({
        status: "installed",
        packages: expect.any(Number),
      });
      expect(existsSync(leftover)).toBe(false);
      expect(
        readdirSync(path.join(root, ".odibi-improve")).filter((n) => n.startsWith("node-deps-")),
      ).toEqual([]);
      expect(stamp().key).not.toBe(first.key);
      expect(existsSync(path.join(root, "node_modules", "ms", "package.json"))).toBe(true);
    } finally {
      await git(master, ["checkout", "--", "package.json"]);
    }
  });

  it("a failed install is a warning; the failures it causes need a package, they are not work", async () => {
    const base = tempDir("oi node deps ");
    // package.json asks for ms 2.1.2, the lockfile has 2.1.3: `npm ci` refuses (before any download).
    const sacred = await nodeRepo(path.join(base, "durations"), "2.1.3", "2.1.2");
    const root = path.join(base, "improve");

    const init = await cli(["init", "--source", sacred, "--root", root]);
    expect(init.code, init.err).toBe(0);
    expect(init.err).toMatch(/warning: npm ci --ignore-scripts --no-audit --no-fund failed/);
    expect(init.err).toContain("lockfile out of date with package.json");
    expect(existsSync(path.join(root, "node_modules"))).toBe(false);
    expect(readdirSync(path.join(root, ".odibi-improve")).filter((n) => n.startsWith("node-deps-"))).toEqual(
      [],
    );

    // The test file dies at import for want of `ms` (its own output says so), `npx --no-install biome` for want of
    // biome: both need an install, neither is a code problem.
    const gates = await cli(["--root", root, "gates"]);
    expect(gates.out).toContain("[tests] node --test"); // package.json's plain test script, run directly
    expect(gates.out).toMatch(
      /FAIL {2}tests test\/dur\.test\.js — Error \[ERR_MODULE_NOT_FOUND\]: Cannot find package 'ms' imported from[^\n]*\n\s+↳ needs npm package ms \(declared in package\.json, not installed\) where the gates run: not a code problem/,
    );
    expect(gates.out).toMatch(
      /FAIL {2}lint biome:crash[^\n]*\n\s+↳ needs the biome command \(npx --no-install found no installed package providing it\)/,
    );
  });
});
