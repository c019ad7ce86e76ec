import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ImprovementEnvironment } from "../src/environment/environment.js";
import { git, statusLines } from "../src/environment/git.js";
import { readEvents } from "../src/events/log.js";
import { reduceJournal } from "../src/events/reducers.js";
import { crashThenResume } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

// Kills inside a promotion (ODIBI_IMPROVE_CRASH_AT, src/core/crash-point.ts), between the promote_begin and
// promote_done: the real CLI, real git, a --no-llm campaign whose one defect ruff fixes.

describe("crash inside a promotion, then run --resume", () => {
  it.each(["promote:committed", "promote:fetched", "promote:merging"])(
    "killed at %s: Master is repaired, before or after the promotion, and the campaign finishes",
    async (point) => {
      const { root, master, before, resumed } = await crashThenResume(
        point,
        async ({ root, master, before }) => {
          // Killed inside the promotion: the branch has not moved; a merge killed half-way left Master's tree moved.
          expect((await git(master, ["rev-parse", "HEAD"])).trim()).toBe(before);
          expect((await statusLines(master)).length > 0).toBe(point === "promote:merging");
          const events = readEvents(path.join(root, "events.jsonl")).events;
          expect(reduceJournal(events).at(-1)?.step).toBe("promote_begin");
        },
      );
      expect(resumed.out).toMatch(
        /recovery: cycle 1 was interrupted at promote_begin; Master is before its promotion/,
      );
      // The snapshot taken for the interrupted promotion is there and points at Master before it.
      expect((await git(master, ["rev-parse", "snapshot/before_cycle_001^{commit}"])).trim()).toBe(before);
      expect(existsSync(path.join(root, "snapshots", "before_cycle_001.tar.gz"))).toBe(true);
      const status = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
      expect(status).toMatchObject({ status: "completed", improvements_promoted: 1 });
    },
  );
});

describe("repairMaster", () => {
  it("brings a half-done merge and a dirty tree back to HEAD, keeping what differed in a stash", async () => {
    const base = tempDir();
    const sacred = await makeGitRepo(path.join(base, "repo"), {
      "pkg/__init__.py": "",
      "pkg/core.py": "import os\n\n\ndef add(a, b):\n    return a + b\n",
    });
    const env = await ImprovementEnvironment.init({ source: sacred, root: path.join(base, "improve") });
    const master = env.layout.master;
    const head = await env.masterHead();
    // A promotion's commit fetched, and a merge killed after it moved the index and tree but not the branch.
    await git(master, ["checkout", "-q", "-b", "candidate"]);
    writeFileSync(path.join(master, "pkg/core.py"), "def add(a, b):\n    return a + b\n");
    await git(master, ["commit", "-q", "-am", "candidate"]);
    const candidate = (await git(master, ["rev-parse", "HEAD"])).trim();
    await git(master, ["checkout", "-q", "-"]);
    await git(master, ["read-tree", "-u", "-m", "HEAD", candidate]);
    writeFileSync(path.join(master, "stray.txt"), "left by a kill\n");
    expect(await statusLines(master)).toHaveLength(2);

    await env.repairMaster();

    expect(await statusLines(master)).toEqual([]);
    expect(await env.masterHead()).toBe(head);
    expect(readFileSync(path.join(master, "pkg/core.py"), "utf8")).toContain("import os");
    expect(existsSync(path.join(master, "stray.txt"))).toBe(false);
    // Nothing is lost: the stash holds the half-merged file and the untracked one.
    expect((await git(master, ["stash", "list"])).trim().split("\n")).toHaveLength(1);
    expect(await git(master, ["show", "stash@{0}^3:stray.txt"])).toBe("left by a kill\n");
    // A clean Master is left as it is.
    await env.repairMaster();
    expect((await git(master, ["stash", "list"])).trim().split("\n")).toHaveLength(1);
  });
});
