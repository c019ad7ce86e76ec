import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { git, gitRaw } from "../src/environment/git.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { PACKAGE_ROOT } from "../src/pyenv/python-env.js";
import { cli } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/** Sacred's working tree and the checked-out branch's state: everything `apply` must leave as it was. */
async function userState(repo: string) {
  const entries = Object.entries(takeFingerprint(repo).entries)
    .filter(([p]) => p !== ".git" && !p.startsWith(".git/"))
    .sort(([a], [b]) => a.localeCompare(b));
  return {
    tree: JSON.stringify(entries),
    head: await git(repo, ["symbolic-ref", "HEAD"]),
    commit: await git(repo, ["rev-parse", "HEAD"]),
    index: readFileSync(path.join(repo, ".git", "index")).toString("base64"),
    status: await git(repo, ["status", "--porcelain"]),
  };
}

const lines = (f: string) => readFileSync(f, "utf8").split("\n").filter(Boolean).length;

describe("the morning loop: apply, merge, resync, a second campaign", () => {
  it("apply writes one branch; after the user merges, resync moves Master onto his HEAD; the next export holds only the new campaign's patch", async () => {
    const base = tempDir();
    const sacred = path.join(base, "inventory");
    cpSync(path.join(PACKAGE_ROOT, "samples", "demo-target"), sacred, { recursive: true });
    await makeGitRepo(sacred, {});
    const root = path.join(base, "improve");
    expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
    const master = path.join(root, "master");
    const run = (args: string[]) => cli(["--root", root, ...args]);

    // Campaign 1 promotes one lint fix.
    const c1 = await run(["run", "--no-llm", "--max-cycles", "1"]);
    expect(c1.code, c1.out + c1.err).toBe(3); // stopped by its cycle limit
    expect((await git(master, ["rev-list", "--count", "sacred..HEAD"])).trim()).toBe("1");
    const lessons = path.join(root, "memory", "lessons.jsonl");
    const learned = lines(lessons);

    // apply: one new branch in Sacred at Master's HEAD; its checked-out branch, index and files untouched.
    const before = await userState(sacred);
    const applied = await run(["apply", "--json"]);
    expect(applied.code, applied.out + applied.err).toBe(0);
    const a = JSON.parse(applied.out);
    expect(a).toMatchObject({ commits: 1, unchanged: false });
    expect(a.branch).toMatch(/^odibi-improve\/\d{8}-[0-9a-f]+$/);
    expect(await git(sacred, ["rev-parse", `refs/heads/${a.branch}`])).toBe(
      await git(master, ["rev-parse", "HEAD"]),
    );
    expect(await userState(sacred)).toEqual(before);
    expect(existsSync(path.join(sacred, ".git", "FETCH_HEAD"))).toBe(false);
    expect(existsSync(path.join(sacred, ".git", "logs", "refs", "heads", "odibi-improve"))).toBe(false);
    expect((await git(sacred, ["branch", "--format=%(refname:short)"])).trim().split("\n").sort()).toEqual(
      [a.branch, "main"].sort(),
    );
    expect(applied.err).not.toMatch(/changed/);
    // Again: the branch is there already, nothing is written.
    expect(JSON.parse((await run(["apply", "--json"])).out)).toMatchObject({ unchanged: true });

    // The user merges it (a merge commit) and commits something of his own.
    await git(sacred, ["merge", "-q", "--no-ff", "-m", "merge odibi-improve", a.branch]);
    writeFileSync(path.join(sacred, "NOTES.md"), "mine\n");
    await git(sacred, ["add", "NOTES.md"]);
    await git(sacred, ["commit", "-q", "-m", "my notes"]);
    const userHead = (await git(sacred, ["rev-parse", "HEAD"])).trim();

    const resynced = await run(["resync", "--json"]);
    expect(resynced.code, resynced.out + resynced.err).toBe(0);
    const r = JSON.parse(resynced.out);
    expect(r).toMatchObject({ base: userHead, head: userHead, kept: [], dropped: [] });
    expect(r.inSacred).toHaveLength(1);
    expect(r.snapshot).toMatch(/^before_resync_/);
    expect((await git(master, ["rev-parse", "HEAD", "sacred"])).trim().split("\n")).toEqual([
      userHead,
      userHead,
    ]);
    expect(readFileSync(path.join(master, "NOTES.md"), "utf8")).toBe("mine\n");
    expect(lines(lessons)).toBe(learned); // memory kept
    expect(resynced.err).not.toMatch(/changed since it was last recorded/);

    // Campaign 2 promotes the next fix; the export holds that patch alone.
    const c2 = await run(["run", "--no-llm", "--max-cycles", "1"]);
    expect(c2.code, c2.out + c2.err).toBe(3);
    const out = path.join(base, "export");
    const exported = await run(["export", "--out", out]);
    expect(exported.code, exported.err).toBe(0);
    const patches = readdirSync(out).filter((f) => f.endsWith(".patch"));
    expect(patches).toHaveLength(1);
    const patch = readFileSync(path.join(out, patches[0]!), "utf8");
    expect(patch).toMatch(/Subject: .*lint failure/);
    expect(patch).toMatch(/^\+\+\+ b\/inventory\/stock\.py$/m);
    expect(patch).not.toMatch(/report\.py/);
    expect(lines(lessons)).toBeGreaterThan(learned);
    // Both campaigns are listed; the report reads as text in a terminal, and has an HTML twin linking its cycles.
    const listed = JSON.parse((await run(["campaigns", "--json"])).out);
    expect(listed.campaigns.map((c: { counts: { promoted: number } }) => c.counts.promoted)).toEqual([1, 1]);
    const report = await run(["report"]);
    expect(report.code, report.err).toBe(0);
    expect(report.out).toContain("MAX_CYCLES_REACHED");
    expect(report.out).not.toMatch(/\\[_()]/);
    const html = readFileSync(
      path.join(root, "reports", `campaign_${listed.campaigns[1].campaignId}_report.html`),
      "utf8",
    );
    const cycleHtml = /href="(cycle_\d{3}_report\.html)"/.exec(html)?.[1];
    expect(cycleHtml).toBeDefined();
    expect(existsSync(path.join(root, "reports", cycleHtml!))).toBe(true);
    expect(html).toContain("What this campaign changed in Master");
    // export --since the second campaign: its patch alone.
    const since = path.join(base, "export-since");
    expect((await run(["export", "--out", since, "--since", listed.campaigns[1].campaignId])).code).toBe(0);
    expect(readdirSync(since).filter((f) => f.endsWith(".patch"))).toEqual(patches);

    // The user takes nothing this time and commits again: by default resync keeps the promotion on his new HEAD...
    const second = JSON.parse((await run(["apply", "--json", "--branch", "odibi-improve/second"])).out);
    expect(second).toMatchObject({ commits: 1, branch: "odibi-improve/second" });
    writeFileSync(path.join(sacred, "NOTES.md"), "mine, again\n");
    await git(sacred, ["commit", "-q", "-am", "more notes"]);
    // A resync killed (kill -9) while it replays leaves Master's HEAD detached, its branch as it was; the next
    // resync puts HEAD back on the branch and does the whole job.
    const branchBefore = (await git(master, ["rev-parse", "refs/heads/master"])).trim();
    const killed = await cli(["--root", root, "resync"], { ODIBI_IMPROVE_CRASH_AT: "resync:picked" });
    expect(killed.signal, killed.out + killed.err).toBe("SIGKILL");
    expect((await gitRaw(master, ["symbolic-ref", "-q", "HEAD"])).exitCode).not.toBe(0);
    expect((await git(master, ["rev-parse", "refs/heads/master"])).trim()).toBe(branchBefore);
    const kept = JSON.parse((await run(["resync", "--json"])).out);
    expect((await git(master, ["symbolic-ref", "HEAD"])).trim()).toBe("refs/heads/master");
    expect(kept.kept).toHaveLength(1);
    expect((await git(master, ["rev-parse", "HEAD~1"])).trim()).toBe(
      (await git(sacred, ["rev-parse", "HEAD"])).trim(),
    );
    expect((await git(master, ["log", "-1", "--format=%s"])).trim()).toMatch(/lint failure/);
    // ...and after a new apply the user declines, --drop-unmerged leaves it out; rollback is the way back.
    const third = JSON.parse((await run(["apply", "--json", "--branch", "odibi-improve/third"])).out);
    expect(third.commits).toBe(1);
    writeFileSync(path.join(sacred, "NOTES.md"), "declined\n");
    await git(sacred, ["commit", "-q", "-am", "declined it"]);
    const dropped = JSON.parse((await run(["resync", "--drop-unmerged", "--json"])).out);
    expect(dropped.dropped).toEqual([
      expect.objectContaining({
        reason: "offered, not merged",
        subject: expect.stringMatching(/lint failure/),
      }),
    ]);
    expect((await git(master, ["rev-parse", "HEAD"])).trim()).toBe(
      (await git(sacred, ["rev-parse", "HEAD"])).trim(),
    );
    expect((await run(["rollback", dropped.snapshot])).code).toBe(0);
    expect((await git(master, ["rev-parse", "HEAD"])).trim()).toBe(third.head);
  });

  it("apply and resync refuse a plain folder and name the way out", async () => {
    const base = tempDir();
    const sacred = path.join(base, "plain");
    cpSync(path.join(PACKAGE_ROOT, "samples", "demo-target"), sacred, { recursive: true });
    const root = path.join(base, "improve");
    expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
    for (const cmd of ["apply", "resync"]) {
      const r = await cli(["--root", root, cmd]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/is not a git repository/);
      expect(r.err).toMatch(/odibi-improve export/);
    }
  });
});
