import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { planRecoveries } from "../src/campaign/plan-recovery.js";
import { type Judgement, PromotionQueue, type Queued } from "../src/campaign/promotion-queue.js";
import { git, statusLines } from "../src/environment/git.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import type { JournalEntry } from "../src/events/schema.js";
import { initPythonRoot, jsonl, runWithLlm } from "./campaign-cli.js";
import { type ScaleLog, scaleFiles, scaleScript } from "./campaign-scale.js";
import { type ScriptedLlmServer, startLlmServer } from "./llm-server.js";

/**
 * Issue 16, parallel candidates and batched verification: the promotion queue's bisection (its scheduling, with
 * the verification as a table), the recovery of several open cycles, and real campaigns through the CLI with two
 * workers against a scripted model over HTTP (real git, real pytest).
 */

interface Item extends Queued {
  name: string;
}

/** A queue whose verification says a batch passes when it holds no culprit; what it verified and promoted. */
function tableQueue(culprits: string[], mode: "candidate" | "batch") {
  const verified: string[][] = [];
  const promoted: string[] = [];
  let head = 0;
  const queue = new PromotionQueue<Item>(
    {
      head: async () => String(head),
      verify: async (items) => {
        verified.push(items.map((i) => i.name));
        const bad = items.some((i) => culprits.includes(i.name));
        return items.map((i): Judgement => (bad ? { ok: false, reason: `${i.name}: fails` } : { ok: true }));
      },
      promote: async (i) => {
        promoted.push(i.name);
        head++;
      },
    },
    mode,
  );
  return { queue, verified, promoted, head: () => String(head) };
}

describe("the promotion queue", () => {
  it("batch: one verification for a good batch, each candidate promoted in order", async () => {
    const q = tableQueue([], "batch");
    const out = await Promise.all(["a", "b", "c", "d"].map((name) => q.queue.submit({ name })));
    expect(out.every((o) => o.promoted)).toBe(true);
    expect(q.promoted).toEqual(["a", "b", "c", "d"]);
    // The first candidate is settled alone (the queue was idle); the three that waited meanwhile, as one batch.
    expect(q.verified).toEqual([["a"], ["b", "c", "d"]]);
  });

  it("batch: a failing batch is bisected down to the culprit; the others are promoted", async () => {
    const q = tableQueue(["c"], "batch");
    const hold = q.queue.submit({ name: "first" });
    const rest = ["a", "b", "c", "d", "e"].map((name) => q.queue.submit({ name }));
    await hold;
    const out = await Promise.all(rest);
    expect(out.map((o) => o.promoted)).toEqual([true, true, false, true, true]);
    expect(out[2]).toEqual({ promoted: false, reason: "c: fails" });
    expect(q.promoted).toEqual(["first", "a", "b", "d", "e"]);
    expect(q.verified).toEqual([
      ["first"],
      ["a", "b", "c", "d", "e"],
      ["a", "b", "c"],
      ["a", "b"],
      ["c"],
      ["d", "e"],
    ]);
  });

  it("candidate: one at a time; a candidate gated on the current Master is promoted without a new verification", async () => {
    const q = tableQueue(["b"], "candidate");
    const out = await Promise.all([
      q.queue.submit({ name: "a", gatedOn: "0" }),
      q.queue.submit({ name: "b", gatedOn: "0" }),
      q.queue.submit({ name: "c", gatedOn: "0" }),
    ]);
    expect(out.map((o) => o.promoted)).toEqual([true, false, true]);
    // a: Master unchanged since its gates ran. b and c: Master moved, so each is verified again, alone.
    expect(q.verified).toEqual([["b"], ["c"]]);
    expect(q.promoted).toEqual(["a", "c"]);
  });

  it("an error of the services fails the candidates it concerned, and the queue goes on", async () => {
    let fail = true;
    const queue = new PromotionQueue<Item>(
      {
        head: async () => "h",
        verify: async (items) => {
          if (fail) {
            fail = false;
            throw new Error("gates crashed");
          }
          return items.map(() => ({ ok: true }));
        },
        promote: async () => {},
      },
      "batch",
    );
    await expect(queue.submit({ name: "a" })).rejects.toThrow("gates crashed");
    await expect(queue.submit({ name: "b" })).resolves.toEqual({ promoted: true });
  });
});

describe("recovery of cycles run at once", () => {
  const e = (cycle: number, step: JournalEntry["step"], data?: Record<string, unknown>): JournalEntry => ({
    at: "t",
    campaign: "c1",
    cycle,
    step,
    ...(data ? { data } : {}),
  });

  it("every open cycle of the killed run is closed; only the promotion begun last can be half-way", () => {
    const lesson = { outcome: "promoted" };
    const entries = [
      e(0, "campaign_start"),
      e(1, "cycle_start"),
      e(2, "cycle_start"),
      e(3, "cycle_start"),
      e(3, "cycle_end"),
      e(1, "decided", { action: "promoted", lesson }),
      e(1, "promote_begin", { previous: "m0" }),
      e(1, "promote_done", { commit: "m1" }),
      e(2, "decided", { action: "promoted", lesson }),
      e(2, "promote_begin", { previous: "m1" }),
    ];
    // Master is at m1: cycle 1's promotion is done, cycle 2's did not move it.
    const plans = planRecoveries({ entries, masterHead: "m1" });
    expect(plans.map((p) => [p.cycle, p.interruptedAt, p.promoted, p.commit])).toEqual([
      [1, "promote_done", true, "m1"],
      [2, "promote_begin", false, undefined],
    ]);
    expect(plans[0]!.lesson).toEqual(lesson);
    expect(plans[1]!.lesson).toBeUndefined();
    // Master at m2: cycle 2's promotion happened too.
    expect(planRecoveries({ entries, masterHead: "m2" })[1]!.promoted).toBe(true);
    // A recovery killed half-way: the cycle it closed stays closed, the other is closed next time.
    expect(planRecoveries({ entries: [...entries, e(1, "recovered")], masterHead: "m1" })).toHaveLength(1);
    expect(planRecoveries({ entries: [...entries, e(0, "campaign_end")], masterHead: "m1" })).toEqual([]);
  });
});

let server: ScriptedLlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const setup = (files: Record<string, string>) => initPythonRoot(files);

async function campaign(root: string, log: ScaleLog, flags: string[], env: Record<string, string> = {}) {
  server ??= await startLlmServer(scaleScript(1000, log));
  return runWithLlm(root, server.origin, "scripted", "sk-test", ["--max-attempts", "1", ...flags], env);
}

/** Master's commits since Sacred, oldest first (subjects), and whether every file is as fixed. */
async function masterState(master: string) {
  const subjects = (await git(master, ["log", "--reverse", "--format=%s", "sacred..HEAD"]))
    .trim()
    .split("\n")
    .filter(Boolean);
  return { subjects, clean: (await statusLines(master)).length === 0 };
}

describe("campaigns with two workers (real CLI, scripted model over HTTP, real pytest)", () => {
  it("per-candidate: two tasks at once, model calls overlap; the second is re-gated on the moved Master", async () => {
    const { sacred, root, master, fp } = await setup(scaleFiles(2));
    const log: ScaleLog = [];
    const run = await campaign(root, log, ["--workers", "2", "--max-cycles", "8"]);
    expect(run.code, run.out + run.err).toBe(0);
    expect(run.out).toContain("NO_WORK");
    // The model worked on both tasks at once: the second started before the first ended.
    const firstEnd = log.findIndex((l) => l.at === "end");
    expect(
      log
        .filter((l, i) => l.at === "start" && i < firstEnd)
        .map((l) => l.task)
        .sort(),
    ).toEqual(["pkg_1", "pkg_2"]);
    expect(run.out).toMatch(/cycle 2 \(2\/8\) on worker 2/);
    // The candidate made on the older Master was applied on the new one and gated again there.
    expect(run.out).toMatch(/queue: cycle\(s\) \d on Master [0-9a-f]{10}: pass/);
    const { subjects, clean } = await masterState(master);
    expect(clean).toBe(true);
    expect(subjects).toHaveLength(2);
    expect(readFileSync(path.join(master, "pkg_1.py"), "utf8")).toContain("return 1");
    expect(readFileSync(path.join(master, "pkg_2.py"), "utf8")).toContain("return 2");
    // Each promotion has its own snapshot and its own promoted lesson; the events name the workers.
    const lessons = jsonl(path.join(root, "memory", "lessons.jsonl")).filter((l) => l.outcome === "promoted");
    expect(lessons.map((l) => l.task.target).sort()).toEqual([
      "tests/test_pkg_1.py::test_value_1",
      "tests/test_pkg_2.py::test_value_2",
    ]);
    const events = jsonl(path.join(root, "events.jsonl"));
    const starts = events.filter((e) => e.type === "step" && e.step === "cycle_start");
    expect(new Set(starts.map((e) => e.data?.worker))).toEqual(new Set([1, 2]));
    expect(events.filter((e) => e.type === "step" && e.step === "snapshot_done")).toHaveLength(2);
    const status = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
    expect(status).toMatchObject({ improvements_promoted: 2, master_changes: 2, status: "completed" });
    expect(takeFingerprint(sacred).digest).toBe(fp);
  }, 300_000);

  it("batched: the culprit's fix passes its targeted steps, fails the queue's full run and alone is rejected", async () => {
    const { root, master } = await setup(scaleFiles(2, { culprit: true }));
    const log: ScaleLog = [];
    const run = await campaign(root, log, [
      "--workers",
      "2",
      "--verification",
      "batch",
      "--max-cycles",
      "12",
    ]);
    expect(run.code, run.out + run.err).toBe(0);
    // Rejected by the queue's full run (test_report, which neither the brain's nor the cycle's targeted step ran).
    const rejected = jsonl(path.join(root, "memory", "lessons.jsonl")).filter(
      (l) => l.outcome === "rejected",
    );
    expect(rejected).toMatchObject([
      { task: { target: "tests/test_units.py::test_to_cm" }, reason: expect.stringContaining("test_label") },
    ]);
    expect(run.out).toMatch(/queue: cycle\(s\) [\d, ]+ on Master [0-9a-f]{10}: fail/);
    const { subjects, clean } = await masterState(master);
    expect(clean).toBe(true);
    expect(subjects, run.out).toHaveLength(2);
    expect(readFileSync(path.join(master, "units.py"), "utf8")).toContain("FACTOR = 100");
    expect(readFileSync(path.join(master, "pkg_1.py"), "utf8")).toContain("return 1");
    expect(readFileSync(path.join(master, "pkg_2.py"), "utf8")).toContain("return 2");
    // Each promotion is its own commit with its own snapshot.
    const events = jsonl(path.join(root, "events.jsonl"));
    expect(events.filter((e) => e.type === "step" && e.step === "snapshot_done")).toHaveLength(2);
  }, 300_000);

  it("a run killed inside a promotion with two workers resumes to the same Master, each fix once", async () => {
    const { root, master } = await setup(scaleFiles(2));
    const log: ScaleLog = [];
    const before = (await git(master, ["rev-parse", "HEAD"])).trim();
    const crashed = await campaign(root, log, ["--workers", "2", "--max-cycles", "6"], {
      ODIBI_IMPROVE_CRASH_AT: "promote:fetched",
    });
    expect(crashed.signal).toBe("SIGKILL");
    const resumed = await campaign(root, log, ["--workers", "2", "--max-cycles", "12", "--resume"]);
    expect(resumed.code, resumed.out + resumed.err).toBe(0);
    expect(resumed.out).toMatch(/recovery: cycle \d was interrupted/);
    const { subjects, clean } = await masterState(master);
    expect(clean).toBe(true);
    expect(subjects).toHaveLength(2);
    expect((await git(master, ["log", "--format=%H", `${before}..HEAD`])).trim().split("\n")).toHaveLength(2);
    const promoted = jsonl(path.join(root, "memory", "lessons.jsonl")).filter(
      (l) => l.outcome === "promoted",
    );
    expect(promoted.map((l) => l.task.target).sort()).toEqual([
      "tests/test_pkg_1.py::test_value_1",
      "tests/test_pkg_2.py::test_value_2",
    ]);
    // No sandbox is left behind.
    expect(existsSync(path.join(root, "sandboxes", "queue"))).toBe(false);
  }, 300_000);
});
