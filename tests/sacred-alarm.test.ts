import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SacredChanged } from "../src/core/errors.js";
import { git } from "../src/environment/git.js";
import { takeFingerprint, watchSacred } from "../src/environment/sacred.js";
import { cli } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * The Sacred alarm tells the truth, with real git: what other programs legitimately write inside Sacred's `.git`
 * (a fetch, `git status` refreshing the index, gc) is a warning; a change to its working tree or HEAD stops the
 * command, saying Sacred changed and that the tool cannot tell who did it.
 */

const FILES = { "a.py": "x = 1\n", "pkg/b.py": "y = 2\n" };

async function sacredWithUpstream() {
  const base = tempDir();
  const upstream = await makeGitRepo(path.join(base, "upstream"), FILES);
  const sacred = path.join(base, "sacred");
  await git(base, ["clone", "-q", "--", upstream, sacred]);
  await git(upstream, [
    "-c",
    "user.name=u",
    "-c",
    "user.email=u@x",
    "commit",
    "-q",
    "--allow-empty",
    "-m",
    "more",
  ]);
  return { base, upstream, sacred };
}

const commit = (dir: string, ...args: string[]) =>
  git(dir, ["-c", "user.name=u", "-c", "user.email=u@x", "commit", "-q", ...args]);

describe("watchSacred with real git", () => {
  it("a fetch, git status and gc in Sacred are a warning", async () => {
    const { sacred } = await sacredWithUpstream();
    const start = takeFingerprint(sacred);
    await git(sacred, ["fetch", "-q", "origin"]);
    writeFileSync(path.join(sacred, "a.py"), "x = 1\n"); // same bytes, new mtime: `git status` rewrites the index
    await git(sacred, ["status", "--porcelain"]);
    await git(sacred, ["gc", "-q"]);
    const warnings: string[] = [];
    const now = watchSacred(start, sacred, { since: "this command started", warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/Sacred's \.git changed since this command started .*FETCH_HEAD/);
    expect(warnings[0]).toContain("working tree and HEAD are unchanged");
    expect(now.digest).not.toBe(start.digest);
    // The new state is the next reference: no second warning for the same fetch.
    watchSacred(now, sacred, { since: "x", warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
  });

  it.each([
    [
      "a tracked file edited",
      async (s: string) => appendFileSync(path.join(s, "a.py"), "z = 3\n"),
      /changed a\.py/,
    ],
    ["a new untracked file", async (s: string) => writeFileSync(path.join(s, "new.py"), ""), /added new\.py/],
    [
      "a new commit",
      async (s: string) => void (await commit(s, "--allow-empty", "-m", "x")),
      /HEAD refs\/heads\/main/,
    ],
    [
      "another branch checked out",
      async (s: string) => void (await git(s, ["checkout", "-q", "-b", "other"])),
      /HEAD refs\/heads\/main \w+ → refs\/heads\/other/,
    ],
  ])("%s: stops, saying Sacred changed and that the tool cannot tell who", async (_name, change, what) => {
    const { sacred } = await sacredWithUpstream();
    const start = takeFingerprint(sacred);
    await change(sacred);
    const warnings: string[] = [];
    let err: unknown;
    try {
      watchSacred(start, sacred, { since: "this command started", warn: (m) => warnings.push(m) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SacredChanged);
    const e = err as SacredChanged;
    expect(e.message).toMatch(what);
    expect(e.message).toContain("cannot tell who changed it");
    expect(`${e.message}\n${e.hint}`).not.toMatch(/nothing was written/i);
  });
});

describe("a campaign whose Sacred changes while it runs (real CLI, generic profile, isolation none)", () => {
  /** An environment whose test command runs `script` (and fails, so that every cycle has work). */
  async function campaign(script: (sacred: string, upstream: string) => string) {
    const { base, upstream, sacred } = await sacredWithUpstream();
    const root = path.join(base, "root");
    const init = await cli(["init", "--source", sacred, "--root", root, "--profile", "generic"]);
    expect(init.code, init.err).toBe(0);
    const sh = path.join(base, "test.sh");
    writeFileSync(sh, `${script(sacred, upstream)}\nexit 1\n`);
    const cfg = path.join(root, "config.yaml");
    writeFileSync(
      cfg,
      `${readFileSync(cfg, "utf8")
        .replace("commands: {}", `commands:\n  test: "sh '${sh}'"`)
        .replace("gates:\n", "gates:\n  cache: false\n  flake_reruns: 0\n")}isolation: none\n`,
    );
    const run = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "3", "--convergence", "3"]);
    return { run, sacred, root };
  }
  const q = (p: string) => `'${p}'`;

  it("an edit of a tracked file stops the campaign after that cycle, saying who cannot be told", async () => {
    const { run, sacred } = await campaign((s) => `echo "# touched" >> ${q(path.join(s, "a.py"))}`);
    expect(run.code, run.out + run.err).toBe(4);
    expect(run.err).toMatch(/Sacred \(.*\) changed since this campaign started: changed a\.py/);
    expect(run.err).toContain("cannot tell who changed it");
    expect(run.err).not.toMatch(/nothing was written/i);
    // Stopped at the first check after cycle 1: the test command ran once.
    expect(readFileSync(path.join(sacred, "a.py"), "utf8")).toBe("x = 1\n# touched\n");
  });

  it("a new commit in Sacred stops it", async () => {
    const { run } = await campaign(
      (s) => `git -C ${q(s)} -c user.name=u -c user.email=u@x commit -q --allow-empty -m sneaky`,
    );
    expect(run.code, run.out + run.err).toBe(4);
    expect(run.err).toMatch(/changed since this campaign started: HEAD refs\/heads\/main/);
  });

  it("a git fetch into Sacred is a warning: the campaign runs its cycles", async () => {
    const { run } = await campaign((s, u) => `git -C ${q(s)} fetch -q ${q(u)} main:refs/remotes/up/main`);
    expect(run.err).not.toContain("cannot tell who");
    expect(run.out + run.err).toMatch(/Sacred's \.git changed since this campaign started .*FETCH_HEAD/);
    expect(run.out).toMatch(/3 cycle\(s\)/);
    expect(run.code, run.out + run.err).not.toBe(4);
  });
});
