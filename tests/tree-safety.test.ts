import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createFile, replaceInFile, viewFile } from "../src/brain/file-tools.js";
import { ImprovementEnvironment, type SandboxInfo } from "../src/environment/environment.js";
import { git } from "../src/environment/git.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { findUnsafeGitPaths, UnsafeGitTreeError } from "../src/environment/tree-safety.js";
import { createJailedRunner, probeIsolation } from "../src/exec/jail.js";
import { checkPolicy } from "../src/policy/index.js";
import { hermeticDirs } from "../src/profiles/odibi/gate-env.js";
import { WorkspacePathError } from "../src/workspace/errors.js";
import { resolveInSandbox } from "../src/workspace/local-path.js";
import { LocalWorkspace } from "../src/workspace/local-workspace.js";
import { cli, jsonl, runWithLlm } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";
import { CALC_FILES } from "./llm-fixtures.js";
import { startLlmServer } from "./llm-server.js";

/**
 * Issue 10, items 3 and 4: everything under a sandbox is hostile. Each attack is planted the way a candidate would
 * plant it (by the model's file tools, or by its code run in the real jail), and every host-side operation after
 * it (undo, diff, freeze, clean, destroy) must leave Sacred byte-identical and run nothing the candidate wrote.
 */

const SACRED_FILES = {
  "mypkg/__init__.py": "",
  "mypkg/core.py": "def f():\n    return 1\n",
  "lib/new.py": "# Sacred's own lib/new.py\n",
  "README.md": "# calc\n",
  ".gitattributes": "*.py diff=python\n",
};

async function setup(): Promise<{
  base: string;
  sacred: string;
  env: ImprovementEnvironment;
  sandbox: SandboxInfo;
  sacredIntact: () => void;
}> {
  const base = tempDir();
  const sacred = await makeGitRepo(path.join(base, "sacred"), SACRED_FILES);
  const env = await ImprovementEnvironment.init({ source: sacred, root: path.join(base, "root") });
  const before = takeFingerprint(sacred).digest;
  const sandbox = await env.createSandbox(1);
  return {
    base,
    sacred,
    env,
    sandbox,
    sacredIntact: () => {
      expect(takeFingerprint(sacred).digest).toBe(before);
      env.verifySacred();
    },
  };
}

const witnesses: string[] = [];
afterAll(() => {
  for (const w of witnesses) rmSync(w, { force: true });
});

/** A file a planted filter would create: outside every sandbox, in a path a shell command needs no quoting for. */
function witnessPath(): string {
  const w = path.join(os.tmpdir(), `oi-filter-ran-${process.pid}-${witnesses.length}-${Date.now()}`);
  witnesses.push(w);
  return w;
}

/** A nested repository with a clean filter that would write `witness` (outside the sandbox) if git ever ran it. */
async function plantFilterRepo(dir: string, witness: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "f.txt"), "hi\n");
  writeFileSync(path.join(dir, ".gitattributes"), "f.txt filter=x\n");
  await git(dir, ["init", "-q"]);
  await git(dir, ["add", "-A"]);
  await git(dir, ["commit", "-q", "-m", "nested"]);
  writeFileSync(
    path.join(dir, ".git", "config"),
    `${readFileSync(path.join(dir, ".git", "config"), "utf8")}[filter "x"]\n\tclean = "sh -c 'touch ${witness}; cat'"\n`,
  );
  // Stat data that no longer matches the index: git must hash the file again, through the filter.
  utimesSync(path.join(dir, "f.txt"), new Date(2001, 1, 1), new Date(2001, 1, 1));
}

describe("undo of a failed attempt never follows a link a test planted", () => {
  it("a changed file replaced by a link into Sacred: undo rewrites the sandbox's file, Sacred untouched", async () => {
    const { sacred, sandbox, sacredIntact } = await setup();
    const files = new LocalWorkspace(sandbox.path);
    replaceInFile(files, "mypkg/core.py", "return 1", "return 2");
    // What the candidate's test code does while the gates run: the edited file becomes a link to a Sacred file.
    const edited = path.join(sandbox.path, "mypkg", "core.py");
    unlinkSync(edited);
    symlinkSync(path.join(sacred, "README.md"), edited);
    files.undo();
    sacredIntact();
    expect(readFileSync(path.join(sacred, "README.md"), "utf8")).toBe("# calc\n");
    expect(lstatSync(edited).isFile()).toBe(true);
    expect(readFileSync(edited, "utf8")).toBe("def f():\n    return 1\n");
  });

  it("a created file's folder replaced by a link to a Sacred folder: undo removes the link, not Sacred's file", async () => {
    const { sacred, sandbox, sacredIntact } = await setup();
    const files = new LocalWorkspace(sandbox.path);
    createFile(files, "lib2/new.py", "X = 1\n");
    const made = path.join(sandbox.path, "lib2");
    unlinkSync(path.join(made, "new.py"));
    rmdirSync(made);
    symlinkSync(path.join(sacred, "lib"), made);
    files.undo();
    sacredIntact();
    expect(existsSync(path.join(sacred, "lib", "new.py"))).toBe(true);
    expect(existsSync(made)).toBe(false);
  });
});

describe("the model's file tools on what code the gates ran left behind", () => {
  it("a FIFO is refused at once, never read (a read would block the campaign)", async () => {
    const { sandbox } = await setup();
    execFileSync("mkfifo", [path.join(sandbox.path, "mypkg", "fifo.py")]);
    const files = new LocalWorkspace(sandbox.path);
    expect(() => viewFile(files, "mypkg/fifo.py")).toThrow(/not a regular file/);
    expect(() => replaceInFile(files, "mypkg/fifo.py", "a", "b")).toThrow(/not a regular file/);
  });
});

describe("no git command runs on a tree holding a nested repository or driver attributes", () => {
  it("a nested .git with a clean filter: the hardened git config alone does not run it", async () => {
    const { sandbox, sacredIntact } = await setup();
    const witness = witnessPath();
    await plantFilterRepo(path.join(sandbox.path, "vendor"), witness);
    // The commands the policy gate used on main, called directly (no walk): submodules are never looked into.
    await git(sandbox.path, ["add", "-A", "-N"]);
    await git(sandbox.path, ["diff", sandbox.baseCommit]);
    await git(sandbox.path, ["status", "--porcelain"]);
    expect(existsSync(witness)).toBe(false);
    sacredIntact();
  });

  it("a nested .git with a clean filter: diff, changes and freeze refuse before git runs; clean removes it", async () => {
    const { env, sandbox, sacredIntact } = await setup();
    const witness = witnessPath();
    await plantFilterRepo(path.join(sandbox.path, "vendor"), witness);
    await expect(env.sandboxDiff(sandbox)).rejects.toThrow(UnsafeGitTreeError);
    await expect(env.sandboxChanges(sandbox)).rejects.toThrow(/vendor\/\.git \(a nested git repository/);
    const err = await env.freezeCandidate(sandbox).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeGitTreeError);
    expect((err as UnsafeGitTreeError).paths.map((p) => p.path)).toEqual([
      "vendor/.git",
      "vendor/.gitattributes",
    ]);
    expect(await git(sandbox.path, ["rev-parse", "HEAD"])).toContain(sandbox.baseCommit); // nothing committed
    await env.cleanSandbox(sandbox);
    expect(existsSync(path.join(sandbox.path, "vendor"))).toBe(false);
    expect(await env.sandboxChanges(sandbox)).toEqual([]);
    expect(existsSync(witness)).toBe(false);
    sacredIntact();
  });

  it("every spelling of .git, .gitmodules and driver attributes is found; Master's own attributes are not", async () => {
    const { sandbox } = await setup();
    const sb = sandbox.path;
    const plant: Record<string, string> = {
      ".GIT/config": "[core]\n",
      "a/.Git": "gitdir: ../elsewhere\n",
      "b/.git": "gitdir: /tmp/elsewhere\n",
      "c/GIT~1/HEAD": "ref: refs/heads/main\n",
      "d/.git./config": "[core]\n",
      "e/.g\u200cit/config": "[core]\n",
      ".gitmodules": '[submodule "x"]\n\tpath = x\n\turl = ../x\n',
      "src/.gitattributes": "[attr]evil filter=x\n*.txt evil\n",
      "docs/.gitattributes": "*.md -diff\n", // no driver: harmless
      "big/.gitattributes": `# ${"x".repeat(2 * 1024 * 1024)}\n`, // not read: too large to check
    };
    for (const [rel, content] of Object.entries(plant)) {
      mkdirSync(path.dirname(path.join(sb, rel)), { recursive: true });
      writeFileSync(path.join(sb, rel), content);
    }
    mkdirSync(path.join(sb, "f"));
    symlinkSync(path.join(sb, ".git"), path.join(sb, "f", ".git"), "dir");
    const found = (await findUnsafeGitPaths(sb, sandbox.baseCommit)).map((p) => p.path);
    expect(found).toEqual(
      [
        ".GIT",
        ".gitmodules",
        "a/.Git",
        "big/.gitattributes",
        "b/.git",
        "c/GIT~1",
        "d/.git.",
        "e/.g\u200cit",
        "f/.git",
        "src/.gitattributes",
      ].sort((x, y) => x.localeCompare(y)),
    );
    // Master's `.gitattributes` (a driver, unchanged) is allowed; changed, it is not.
    writeFileSync(path.join(sb, ".gitattributes"), "*.py diff=python\n*.txt filter=x\n");
    expect((await findUnsafeGitPaths(sb, sandbox.baseCommit)).map((p) => p.path)).toContain(".gitattributes");
  });

  it("the policy rule unsafe-git-path names each such path in a diff", () => {
    const diff = [
      "diff --git a/sub/.GIT/config b/sub/.GIT/config",
      "new file mode 100644",
      "--- /dev/null",
      "+++ b/sub/.GIT/config",
      "@@ -0,0 +1 @@",
      "+[core]",
      "diff --git a/.gitattributes b/.gitattributes",
      "--- a/.gitattributes",
      "+++ b/.gitattributes",
      "@@ -1 +1,2 @@",
      " *.py diff=python",
      "+*.txt filter=x",
      "",
    ].join("\n");
    const checks = checkPolicy(diff, {
      protected_paths: [],
      forbidden_connections: [],
      allow_new_features: true,
      max_files_changed: 100,
      max_lines_changed: 1000,
    }).filter((c) => c.errorType === "unsafe-git-path");
    expect(checks.map((c) => [c.file, c.line])).toEqual([
      ["sub/.GIT/config", undefined],
      [".gitattributes", 2],
    ]);
  });
});

describe("folders the host makes in a gate's output folder (writable by jailed code)", () => {
  it("a planted link to a Sacred folder is replaced by a real folder, never written through", async () => {
    const { base, sacred, sacredIntact } = await setup();
    const out = path.join(base, "stories", "cycle_001", "after");
    mkdirSync(out, { recursive: true });
    symlinkSync(path.join(sacred, "mypkg"), path.join(out, "env"), "dir");
    const dirs = hermeticDirs(path.join(out, "env"));
    expect(lstatSync(path.join(out, "env")).isDirectory()).toBe(true);
    expect(existsSync(dirs.HOME!)).toBe(true);
    expect(existsSync(path.join(sacred, "mypkg", "home"))).toBe(false);
    sacredIntact();
  });
});

describe("the model's file tools refuse any .git", () => {
  it("in any case or spelling, at any depth, and when reached through a link", async () => {
    const { sandbox } = await setup();
    const files = new LocalWorkspace(sandbox.path);
    symlinkSync(".git", path.join(sandbox.path, "g"));
    mkdirSync(path.join(sandbox.path, "sub"));
    symlinkSync(path.join(sandbox.path, ".git"), path.join(sandbox.path, "sub", "h"));
    for (const p of [
      ".git/config",
      ".GIT/config",
      "vendor/.git/config",
      "a/.Git",
      "x/git~1/HEAD",
      "g/config",
      "sub/h/HEAD",
    ])
      expect(() => resolveInSandbox(files.root, p), p).toThrow(/\.git folder is off limits/);
    expect(() => createFile(files, "vendor/.git/config", "[core]\n")).toThrow(WorkspacePathError);
    expect(existsSync(path.join(sandbox.path, "vendor"))).toBe(false);
  });
});

describe("destroying a sandbox never leaves it", () => {
  it("links to a folder and a file outside are removed, their targets kept", async () => {
    const { base, env, sandbox, sacred, sacredIntact } = await setup();
    const outside = path.join(base, "outside");
    mkdirSync(outside);
    writeFileSync(path.join(outside, "keep.txt"), "keep\n");
    symlinkSync(outside, path.join(sandbox.path, "out"), "dir");
    symlinkSync(path.join(sacred, "mypkg"), path.join(sandbox.path, "mypkg", "sacred"), "dir");
    symlinkSync(path.join(outside, "keep.txt"), path.join(sandbox.path, "keep.txt"));
    await env.destroySandbox(sandbox);
    expect(existsSync(sandbox.path)).toBe(false);
    expect(readFileSync(path.join(outside, "keep.txt"), "utf8")).toBe("keep\n");
    sacredIntact();
  });

  it("a recycled sandbox whose .git is a link is not reset through it: a fresh one is made", async () => {
    const { base, env, sandbox, sacredIntact } = await setup();
    const outside = path.join(base, "outside-git");
    mkdirSync(outside);
    await env.destroySandbox(sandbox);
    // The parked warm sandbox, its .git replaced by a link (what a jail without a read-only .git would allow).
    const warm = path.join(env.layout.sandboxes, ".pool", "warm");
    mkdirSync(warm, { recursive: true });
    symlinkSync(outside, path.join(warm, ".git"), "dir");
    const again = await env.createSandbox(2, { reuse: true });
    expect(lstatSync(path.join(again.path, ".git")).isDirectory()).toBe(true);
    expect(await env.sandboxChanges(again)).toEqual([]);
    expect(readdirSync(outside)).toEqual([]);
    sacredIntact();
  });

  it("a recycled sandbox holding a nested repository is reset without running it", async () => {
    const { env, sandbox, sacredIntact } = await setup();
    const witness = witnessPath();
    await plantFilterRepo(path.join(sandbox.path, "vendor"), witness);
    await env.destroySandbox(sandbox, { recycle: true });
    const again = await env.createSandbox(2, { reuse: true });
    expect(existsSync(path.join(again.path, "vendor"))).toBe(false);
    expect(await env.sandboxChanges(again)).toEqual([]);
    expect(existsSync(witness)).toBe(false);
    sacredIntact();
  });
});

describe("attacks planted by code in the real jail", async () => {
  const probe = await probeIsolation();
  const jailed = (sandbox: string, script: string) =>
    createJailedRunner({ mode: "bwrap", sandbox })("/bin/sh", ["-c", script], {
      cwd: sandbox,
      timeoutMs: 60_000,
    });

  it.runIf(probe.available || process.env.CI === "true")(
    "the sandbox's .git cannot be replaced or written; a planted link and nested repository change nothing outside",
    async () => {
      const { sacred, env, sandbox, sacredIntact } = await setup();
      const files = new LocalWorkspace(sandbox.path);
      replaceInFile(files, "mypkg/core.py", "return 1", "return 2");
      const witness = witnessPath();
      const r = await jailed(
        sandbox.path,
        [
          "mv .git .git-old 2>/dev/null || echo no-rename",
          "echo '[core] fsmonitor = touch /tmp/x' >> .git/config 2>/dev/null || echo no-config",
          `rm -f mypkg/core.py && ln -s ${JSON.stringify(path.join(sacred, "README.md"))} mypkg/core.py && echo linked`,
          "mkdir -p vendor && cd vendor && git init -q && echo hi > f.txt && echo 'f.txt filter=x' > .gitattributes",
          "git -c user.name=x -c user.email=x@x add -A && git -c user.name=x -c user.email=x@x commit -qm v",
          `printf '[filter "x"]\\n\\tclean = "sh -c %stouch ${witness}; cat%s"\\n' "'" "'" >> .git/config && echo nested`,
          "touch -d 2001-01-01 f.txt",
        ].join("; "),
      );
      expect(r.stdout.split("\n").filter(Boolean)).toEqual(["no-rename", "no-config", "linked", "nested"]);
      expect(lstatSync(path.join(sandbox.path, ".git")).isDirectory()).toBe(true);
      files.undo();
      await expect(env.freezeCandidate(sandbox)).rejects.toThrow(UnsafeGitTreeError);
      await env.cleanSandbox(sandbox);
      expect(await env.sandboxChanges(sandbox)).toEqual([]);
      expect(existsSync(witness)).toBe(false);
      await env.destroySandbox(sandbox);
      sacredIntact();
    },
  );
});

describe("a whole campaign against a scripted model whose test code plants both attacks", async () => {
  const probe = await probeIsolation();

  it.runIf(probe.available || process.env.CI === "true")(
    "the candidate is rejected by rule unsafe-git-path, nothing planted runs, Sacred and Master unchanged",
    async () => {
      const base = tempDir();
      const sacred = await makeGitRepo(path.join(base, "calc"), CALC_FILES);
      const root = path.join(base, "root");
      expect((await cli(["init", "--source", sacred, "--root", root, "--profile", "python"])).code).toBe(0);
      const master = path.join(root, "master");
      const before = { sacred: takeFingerprint(sacred).digest, master: takeFingerprint(master).digest };
      const witness = witnessPath();
      // The real fix, in code the tests import: run by the gates (in the jail), it turns calc.py into a link to a
      // Sacred file and makes a nested repository whose clean filter would write the witness if git on the host ran
      // it. (A new test file would be rejected as oracle-modified and removed before the gates.)
      const plant = [
        "import subprocess",
        "from pathlib import Path",
        "",
        "",
        "def _plant():",
        "    v = Path('vendor')",
        "    if v.exists():",
        "        return",
        "    calc = Path('calc.py')",
        "    calc.unlink()",
        `    calc.symlink_to(${JSON.stringify(path.join(sacred, "pytest.ini"))})`,
        "    v.mkdir()",
        "    (v / 'f.txt').write_text('hi')",
        "    (v / '.gitattributes').write_text('f.txt filter=x')",
        "    ident = ['-c', 'user.name=x', '-c', 'user.email=x@x']",
        "    subprocess.run(['git', 'init', '-q'], cwd=v, check=True)",
        "    subprocess.run(['git', *ident, 'add', '-A'], cwd=v, check=True)",
        "    subprocess.run(['git', *ident, 'commit', '-qm', 'v'], cwd=v, check=True)",
        "    with open(v / '.git' / 'config', 'a') as f:",
        `        f.write('[filter "x"]\\n\\tclean = "sh -c \\'touch ${witness}; cat\\'"\\n')`,
        "",
        "",
        "_plant()",
        "",
        "",
        "def add(a, b):",
        "    return a + b",
        "",
      ].join("\n");
      const server = await startLlmServer([
        {
          type: "tools",
          calls: [
            {
              name: "replace_in_file",
              args: { path: "calc.py", old_text: "def add(a, b):\n    return a - b\n", new_text: plant },
            },
          ],
        },
        { type: "tools", calls: [{ name: "finish", args: { summary: "done" } }] },
      ]);
      let run: Awaited<ReturnType<typeof cli>>;
      try {
        run = await runWithLlm(root, server.origin, "tree-safety-model", "sk-tree-safety", [
          "--max-attempts",
          "1",
          "--max-cycles",
          "1",
        ]);
      } finally {
        await server.close();
      }
      expect(server.requests, run.out + run.err).toHaveLength(2);
      const lessons = jsonl(path.join(root, "memory", "lessons.jsonl")).filter(
        (l) => l.approach.kind === "llm",
      );
      expect(lessons, run.out).toHaveLength(1);
      expect(lessons[0], run.out).toMatchObject({
        outcome: "rejected",
        gate: "policy",
        reason: expect.stringMatching(/unsafe-git-path\].*vendor\/\.git/),
      });
      expect(existsSync(witness)).toBe(false);
      expect({ sacred: takeFingerprint(sacred).digest, master: takeFingerprint(master).digest }).toEqual(
        before,
      );
      expect(readFileSync(path.join(sacred, "pytest.ini"), "utf8")).toBe(CALC_FILES["pytest.ini"]);
    },
  );
});

describe("a campaign whose fixer runs repository code that plants a nested repository", async () => {
  const probe = await probeIsolation();

  it.runIf(probe.available || process.env.CI === "true")(
    "the candidate is rejected by rule unsafe-git-path before any git command, the campaign goes on",
    async () => {
      const base = tempDir();
      const witness = witnessPath();
      const plant = [
        "import subprocess",
        "from pathlib import Path",
        "",
        "Path('calc.py').write_text(Path('calc.py').read_text().replace('a - b', 'a + b'))",
        "v = Path('vendor')",
        "v.mkdir()",
        "(v / 'f.txt').write_text('hi')",
        "(v / '.gitattributes').write_text('f.txt filter=x')",
        "ident = ['-c', 'user.name=x', '-c', 'user.email=x@x']",
        "subprocess.run(['git', 'init', '-q'], cwd=v, check=True)",
        "subprocess.run(['git', *ident, 'add', '-A'], cwd=v, check=True)",
        "subprocess.run(['git', *ident, 'commit', '-qm', 'v'], cwd=v, check=True)",
        "with open(v / '.git' / 'config', 'a') as f:",
        `    f.write('[filter "x"]\\n\\tclean = "sh -c \\'touch ${witness}; cat\\'"\\n')`,
        "",
      ].join("\n");
      const sacred = await makeGitRepo(path.join(base, "calc"), { ...CALC_FILES, "tools/plant.py": plant });
      const root = path.join(base, "root");
      expect((await cli(["init", "--source", sacred, "--root", root, "--profile", "python"])).code).toBe(0);
      const cfg = path.join(root, "config.yaml");
      const text = readFileSync(cfg, "utf8");
      expect(text).toContain("commands: {}");
      writeFileSync(cfg, text.replace("commands: {}", "commands:\n  fix:\n    - python tools/plant.py"));
      const master = path.join(root, "master");
      const before = { sacred: takeFingerprint(sacred).digest, master: takeFingerprint(master).digest };
      const run = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "1"]);
      expect(run.code, run.out + run.err).toBe(3); // the cycle limit ended it, not an error
      const lessons = jsonl(path.join(root, "memory", "lessons.jsonl")).filter(
        (l) => l.approach.kind === "fixer",
      );
      expect(lessons[0], run.out).toMatchObject({
        outcome: "rejected",
        gate: "policy",
        reason: expect.stringContaining("[unsafe-git-path]"),
        files: ["vendor/.git", "vendor/.gitattributes"],
      });
      expect(existsSync(witness)).toBe(false);
      expect({ sacred: takeFingerprint(sacred).digest, master: takeFingerprint(master).digest }).toEqual(
        before,
      );
      expect(readdirSync(path.join(root, "sandboxes")).filter((n) => !n.startsWith("."))).toEqual([]);
    },
  );
});
