import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/load.js";
import {
  ConfigError,
  EnvironmentStateError,
  NotFoundError,
  SacredViolation,
  UsageError,
} from "../src/core/errors.js";
import { ImprovementEnvironment } from "../src/environment/environment.js";
import { git, statusLines, treeHash } from "../src/environment/git.js";
import { takeFingerprint, verifyFingerprint } from "../src/environment/sacred.js";
import { detectProfile, profileOf } from "../src/profiles/index.js";
import { makeGitRepo, tempDir, writeFiles } from "./helpers.js";

/** Contents, modes AND timestamps of every file in Sacred, `.git` included: "not even a timestamp". */
function strictWitness(dir: string): () => void {
  const stamps = (): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = path.join(d, n);
        const st = lstatSync(p);
        out[path.relative(dir, p)] = `${st.mode}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.nlink}`;
        if (st.isDirectory()) walk(p);
      }
    };
    walk(dir);
    return out;
  };
  const fp = takeFingerprint(dir).digest;
  const before = stamps();
  return () => {
    expect(takeFingerprint(dir).digest).toBe(fp);
    expect(stamps()).toEqual(before);
  };
}

const PY_REPO = {
  "pkg/__init__.py": "",
  "pkg/core.py": "def add(a, b):\n    return a + b\n",
  "tests/test_core.py": "from pkg.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
  "pyproject.toml": '[project]\nname = "pkg"\nversion = "0.1.0"\n',
  ".gitignore": "__pycache__/\n",
};

async function setup(opts: { plain?: boolean } = {}) {
  const base = tempDir();
  const sacred = path.join(base, "my repo ü");
  if (opts.plain) {
    mkdirSync(sacred);
    writeFiles(sacred, PY_REPO);
  } else await makeGitRepo(sacred, PY_REPO);
  const check = strictWitness(sacred);
  const root = path.join(base, "improve root");
  return { base, sacred, root, check };
}

describe("init", () => {
  it("clones a git Sacred into Master without touching Sacred", async () => {
    const { sacred, root, check } = await setup();
    const env = await ImprovementEnvironment.init({ source: sacred, root, profile: detectProfile(sacred) });
    expect(await treeHash(env.layout.master)).toBe(await treeHash(sacred));
    for (const d of ["sandboxes", "snapshots", "golden", "memory", "reports", "stories", "trajectories"])
      expect(existsSync(path.join(root, d))).toBe(true);
    expect(env.config.profile).toBe("python");
    expect(env.config.source.auto_reset_master).toBe(false);
    const reopened = ImprovementEnvironment.open(root);
    expect(reopened.sacred).toBe(path.resolve(sacred));
    reopened.verifySacred();
    check();
  });

  it("copies a plain folder and makes it a repository with a first commit", async () => {
    const { sacred, root, check } = await setup({ plain: true });
    const env = await ImprovementEnvironment.init({ source: sacred, root, profile: profileOf("generic") });
    expect(readFileSync(path.join(env.layout.master, "pkg/core.py"), "utf8")).toContain("return a + b");
    expect(await statusLines(env.layout.master)).toEqual([]);
    expect((await git(env.layout.master, ["log", "--oneline"])).trim().split("\n")).toHaveLength(1);
    expect(existsSync(path.join(sacred, ".git"))).toBe(false);
    expect(env.config.profile).toBe("generic");
    check();
  });

  it("refuses a dirty Sacred unless --allow-dirty, which takes the working tree", async () => {
    const { sacred, root } = await setup();
    writeFileSync(path.join(sacred, "pkg/core.py"), "def add(a, b):\n    return b + a\n");
    writeFileSync(path.join(sacred, "new_file.py"), "X = 1\n");
    const check = strictWitness(sacred);
    await expect(ImprovementEnvironment.init({ source: sacred, root })).rejects.toThrow(/uncommitted change/);
    expect(existsSync(path.join(root, "master"))).toBe(false);
    const env = await ImprovementEnvironment.init({ source: sacred, root, allowDirty: true, force: true });
    expect(readFileSync(path.join(env.layout.master, "pkg/core.py"), "utf8")).toContain("return b + a");
    expect(existsSync(path.join(env.layout.master, "new_file.py"))).toBe(true);
    expect(await statusLines(env.layout.master)).toEqual([]);
    check();
  });

  it("rejects bad sources and roots with usage errors, losing nothing", async () => {
    const { base, sacred, root, check } = await setup();
    await expect(ImprovementEnvironment.init({ source: path.join(base, "nope"), root })).rejects.toThrow(
      UsageError,
    );
    await expect(
      ImprovementEnvironment.init({ source: sacred, root: path.join(sacred, "inner") }),
    ).rejects.toThrow(/inside the source/);
    await expect(ImprovementEnvironment.init({ source: sacred, root: base })).rejects.toThrow(/inside root/);
    mkdirSync(root);
    writeFileSync(path.join(root, "keep.txt"), "mine");
    await expect(ImprovementEnvironment.init({ source: sacred, root })).rejects.toThrow(/not empty/);
    await ImprovementEnvironment.init({ source: sacred, root, force: true });
    expect(readFileSync(path.join(root, "keep.txt"), "utf8")).toBe("mine");
    // --force again: the old Master is moved aside, never deleted.
    await ImprovementEnvironment.init({ source: sacred, root, force: true });
    const aside = readdirSync(root).filter((n) => n.startsWith(".replaced-"));
    expect(aside).toHaveLength(1);
    expect(existsSync(path.join(root, aside[0]!, "master", ".git"))).toBe(true);
    expect(existsSync(path.join(sacred, "inner"))).toBe(false);
    check();
  });
});

describe("sandboxes", () => {
  it("creates independent copies of Master's HEAD and destroys them completely", async () => {
    const { sacred, root, check } = await setup();
    const env = await ImprovementEnvironment.init({ source: sacred, root });
    const a = await env.createSandbox(1);
    const b = await env.createSandbox("cycle_002");
    expect(a.id).toBe("cycle_001");
    expect(await treeHash(a.path)).toBe(await treeHash(env.layout.master));
    writeFileSync(path.join(a.path, "pkg/core.py"), "broken\n");
    writeFileSync(path.join(a.path, "added.py"), "Y = 2\n");
    expect(readFileSync(path.join(b.path, "pkg/core.py"), "utf8")).toContain("return a + b");
    expect(readFileSync(path.join(env.layout.master, "pkg/core.py"), "utf8")).toContain("return a + b");
    expect((await env.sandboxChanges(a)).sort()).toEqual(["added.py", "pkg/core.py"]);
    expect(await env.sandboxDiff(a)).toContain("+broken");
    expect(env.listSandboxes().map((s) => s.id)).toEqual(["cycle_001", "cycle_002"]);
    await expect(env.createSandbox(1)).rejects.toThrow(EnvironmentStateError);
    await env.destroySandbox(a);
    expect(existsSync(a.path)).toBe(false);
    // A crashed run leaves sandboxes behind: the next start cleans them.
    expect(await env.cleanupOrphans()).toEqual(["cycle_002"]);
    expect(readdirSync(env.layout.sandboxes)).toEqual([]);
    expect(await statusLines(env.layout.master)).toEqual([]);
    check();
  });
});

describe("sandbox reuse", () => {
  it("a recycled sandbox comes back as an exact copy of Master, with nothing a candidate planted", async () => {
    const { sacred, root, check } = await setup();
    const env = await ImprovementEnvironment.init({ source: sacred, root });
    const a = await env.createSandbox(1);
    writeFileSync(path.join(a.path, "pkg/core.py"), "broken\n");
    writeFiles(a.path, {
      "untracked.py": "x",
      "__pycache__/c.pyc": "ignored",
      ".git/hooks/post-checkout": "#!/bin/sh\ntouch /tmp/pwned\n",
    });
    // A candidate that plants a program for git to run (fsmonitor) must not get it run by our git calls.
    const marker = path.join(root, "fsmonitor-ran");
    writeFileSync(path.join(a.path, ".git", "config"), `[core]\n\tfsmonitor = "touch '${marker}'"\n`);
    await env.destroySandbox(a, { recycle: true });
    expect(existsSync(a.path)).toBe(false);
    const b = await env.createSandbox(2, { reuse: true });
    expect(readdirSync(env.layout.sandboxes)).toContain(".pool");
    expect(await treeHash(b.path)).toBe(await treeHash(env.layout.master));
    expect(await statusLines(b.path)).toEqual([]);
    expect(existsSync(path.join(b.path, "untracked.py"))).toBe(false);
    expect(existsSync(path.join(b.path, "__pycache__"))).toBe(false);
    expect(readFileSync(path.join(b.path, "pkg/core.py"), "utf8")).toContain("return a + b");
    expect(readFileSync(path.join(b.path, ".git", "config"), "utf8")).not.toContain("fsmonitor");
    expect(existsSync(marker)).toBe(false);
    // and it still promotes like a fresh one
    writeFileSync(path.join(b.path, "pkg/core.py"), "def add(a, b):\n    return b + a\n");
    const r = await env.promoteToMaster(b, { cycleId: "2", task: "t", gatesPassed: [] });
    expect(await env.masterHead()).toBe(r.commit);
    check();
  });
});

describe("snapshots and promotion", () => {
  it("promotes a sandbox's diff atomically with a message naming cycle, task and gates", async () => {
    const { sacred, root, check } = await setup();
    const env = await ImprovementEnvironment.init({ source: sacred, root });
    const before = await env.masterHead();
    const sb = await env.createSandbox(3);
    writeFileSync(path.join(sb.path, "pkg/core.py"), "def add(a, b):\n    return a + b  # checked\n");
    const r = await env.promoteToMaster(sb, {
      cycleId: "cycle_003",
      task: "fix lint F401",
      gatesPassed: ["lint", "tests"],
    });
    expect(r.previous).toBe(before);
    expect(await env.masterHead()).toBe(r.commit);
    const msg = await git(env.layout.master, ["log", "-1", "--format=%B"]);
    expect(msg).toContain("cycle_003");
    expect(msg).toContain("fix lint F401");
    expect(msg).toContain("Gates passed: lint, tests");
    expect(readFileSync(path.join(env.layout.master, "pkg/core.py"), "utf8")).toContain("# checked");
    expect(await statusLines(env.layout.master)).toEqual([]);
    // A stale sandbox (Master moved since) is refused, Master unchanged.
    const stale = { ...sb, baseCommit: before };
    await expect(env.promoteToMaster(stale, { cycleId: "x", task: "t", gatesPassed: [] })).rejects.toThrow(
      /Master moved/,
    );
    expect(await env.masterHead()).toBe(r.commit);
    check();
  });

  it("a frozen candidate is promoted without what the gates wrote after it", async () => {
    const { sacred, root, check } = await setup();
    const env = await ImprovementEnvironment.init({ source: sacred, root });
    const sb = await env.createSandbox(4);
    writeFileSync(path.join(sb.path, "pkg/core.py"), "def add(a, b):\n    return a + b  # frozen\n");
    writeFiles(sb.path, { "pkg/new_helper.py": "Z = 3\n" });
    const frozen = await env.freezeCandidate(sb);
    expect(frozen.files.sort()).toEqual(["pkg/core.py", "pkg/new_helper.py"]);
    expect(frozen.diff).toContain("+Z = 3");
    // the gates run now and leave artifacts (test data, catalogs, caches) and even touch a tracked file
    writeFiles(sb.path, { "data/_system/catalog.json": "{}", "__pycache__/x.pyc": "b" });
    writeFileSync(path.join(sb.path, "pyproject.toml"), "touched by a test run\n");
    const r = await env.promoteToMaster(sb, { cycleId: "4", task: "t", gatesPassed: ["tests"] });
    expect(r.filesChanged.sort()).toEqual(["pkg/core.py", "pkg/new_helper.py"]);
    expect(existsSync(path.join(env.layout.master, "data"))).toBe(false);
    expect(readFileSync(path.join(env.layout.master, "pyproject.toml"), "utf8")).toContain("[project]");
    expect((await git(env.layout.master, ["log", "-1", "--format=%s"])).trim()).toBe(
      "odibi-improve: cycle 4: t",
    );
    check();
  });

  it("refuses to promote onto a Master with uncommitted junk, and keeps the junk", async () => {
    const { sacred, root, check } = await setup();
    const env = await ImprovementEnvironment.init({ source: sacred, root });
    const head = await env.masterHead();
    const sb = await env.createSandbox(1);
    writeFileSync(path.join(sb.path, "pkg/core.py"), "changed = True\n");
    writeFileSync(path.join(env.layout.master, "junk.txt"), "someone's work");
    await expect(env.promoteToMaster(sb, { cycleId: "1", task: "t", gatesPassed: [] })).rejects.toThrow(
      /uncommitted changes/,
    );
    expect(await env.masterHead()).toBe(head);
    expect(readFileSync(path.join(env.layout.master, "junk.txt"), "utf8")).toBe("someone's work");
    check();
  });

  it("snapshots, rolls back exactly (tree verified) and keeps max_snapshots", async () => {
    const { sacred, root, check } = await setup();
    const env = await ImprovementEnvironment.init({ source: sacred, root });
    const s0 = await env.snapshotMaster("before_cycle_001");
    expect(existsSync(path.join(root, "snapshots", "before_cycle_001.tar.gz"))).toBe(true);
    expect((await git(env.layout.master, ["tag", "--list", "snapshot/*"])).trim()).toBe(
      "snapshot/before_cycle_001",
    );
    const sb = await env.createSandbox(1);
    writeFileSync(path.join(sb.path, "pkg/core.py"), "def add(a, b):\n    return 42\n");
    await env.promoteToMaster(sb, { cycleId: "1", task: "t", gatesPassed: ["tests"] });
    const promoted = await env.masterHead();
    const r = await env.rollbackMaster("before_cycle_001");
    expect(await treeHash(env.layout.master)).toBe(s0.tree);
    expect(readFileSync(path.join(env.layout.master, "pkg/core.py"), "utf8")).toContain("return a + b");
    // Nothing is lost: the state before the rollback is a snapshot of its own.
    expect(r.safety.commit).toBe(promoted);
    await expect(env.rollbackMaster("does_not_exist")).rejects.toThrow(NotFoundError);
    await expect(env.snapshotMaster("../evil")).rejects.toThrow(UsageError);
    check();
  });

  it("applies retention", async () => {
    const { sacred, root, check } = await setup();
    await ImprovementEnvironment.init({ source: sacred, root });
    const cfgPath = path.join(root, "config.yaml");
    writeFileSync(cfgPath, readFileSync(cfgPath, "utf8").replace("max_snapshots: 10", "max_snapshots: 2"));
    const env = ImprovementEnvironment.open(root);
    for (const n of ["a", "b", "c", "d"]) await env.snapshotMaster(n);
    expect(env.listSnapshots().map((s) => s.name)).toEqual(["c", "d"]);
    expect((await git(env.layout.master, ["tag", "--list", "snapshot/*"])).trim().split("\n")).toEqual([
      "snapshot/c",
      "snapshot/d",
    ]);
    expect(existsSync(path.join(root, "snapshots", "a.tar.gz"))).toBe(false);
    check();
  });
});

describe("the Sacred guard", () => {
  it("refuses writes into Sacred, also through a symlink, and detects changes", async () => {
    const { sacred, root } = await setup();
    const env = await ImprovementEnvironment.init({ source: sacred, root });
    expect(() => env.guard.assertWritable(path.join(sacred, "x.txt"))).toThrow(SacredViolation);
    const link = path.join(root, "sneaky");
    symlinkSync(sacred, link);
    expect(() => env.guard.assertWritable(path.join(link, "pkg", "new.py"))).toThrow(SacredViolation);
    expect(() => env.guard.assertWritable(path.join(root, "reports", "ok.md"))).not.toThrow();
    writeFileSync(path.join(sacred, "pkg/core.py"), "tampered\n");
    expect(() => env.verifySacred()).toThrow(/changed since init[\s\S]*pkg\/core.py/);
    // Checked against the start of a command (what every CLI command does), the message says so.
    const start = takeFingerprint(sacred);
    writeFileSync(path.join(sacred, "pkg/new.py"), "x = 1\n");
    expect(() =>
      verifyFingerprint(start, sacred, { since: "this command started", hint: "who changed it?" }),
    ).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(
          /^Sacred \(.*\) changed since this command started!\n {2}added: pkg\/new\.py$/,
        ),
        hint: "who changed it?",
      }),
    );
  });
});

describe("config errors name file, line and column", () => {
  const good = 'source:\n  sacred_repo: "D:/odibi/odibi"\n';
  it("accepts a minimal config with Windows paths and fills defaults", () => {
    const c = parseConfig(good, "config.yaml");
    expect(c.source.sacred_repo).toBe("D:/odibi/odibi");
    expect(c.stop_conditions).toEqual({ max_cycles: 10, max_hours: 4, convergence_cycles: 3 });
    expect(c.snapshots.max_snapshots).toBe(10);
  });
  it("malformed YAML", () => {
    const err = (() => {
      try {
        parseConfig(`${good}gates: [unclosed\n`, "/r/config.yaml");
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toMatch(/^\/r\/config\.yaml:\d+:\d+: invalid YAML/);
  });
  it("unknown keys point at the key", () => {
    expect(() => parseConfig(`${good}gates:\n  require_rufff_clean: true\n`, "c.yaml")).toThrow(
      /c\.yaml:4:3: gates\.require_rufff_clean: unknown key "require_rufff_clean"/,
    );
  });
  it("wrong types point at the value", () => {
    expect(() => parseConfig(`${good}stop_conditions:\n  max_cycles: many\n`, "c.yaml")).toThrow(
      /c\.yaml:4:15: stop_conditions\.max_cycles: .*number/,
    );
  });
  it("accepts the roadmap's CampaignConfig names under campaign and folds them into their sections", () => {
    const c = parseConfig(
      `${good}campaign:\n  max_cycles: 20\n  max_hours: 8\n  convergence_threshold: 5\n  require_tests_pass: false\n` +
        "  require_lint_clean: true\n  require_golden_pass: false\n  enable_llm_improvements: false\n" +
        "  max_improvement_attempts_per_cycle: 2\n  llm_model: o4-mini\n  goal: fix tests\n",
      "c.yaml",
    );
    expect(c.stop_conditions).toEqual({ max_cycles: 20, max_hours: 8, convergence_cycles: 5 });
    expect(c.gates).toMatchObject({
      require_pytest_pass: false,
      require_ruff_clean: true,
      require_golden_projects: false,
    });
    expect(c.campaign).toMatchObject({ llm: false, goal: "fix tests" });
    expect(c.campaign).not.toHaveProperty("max_cycles");
    expect(c.llm).toMatchObject({ max_attempts: 2, model: "o4-mini" });
    // Under campaign, the roadmap's name overrides the environment's section (init writes every default there).
    expect(
      parseConfig(`${good}stop_conditions:\n  max_cycles: 10\ncampaign:\n  max_cycles: 2\n`, "c.yaml")
        .stop_conditions.max_cycles,
    ).toBe(2);
  });
  it("a missing required section points at the top", () => {
    expect(() => parseConfig("profile: odibi\n", "c.yaml")).toThrow(/c\.yaml:1:1: source: /);
  });
});
