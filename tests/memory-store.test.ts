import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EnvironmentStateError, type Lesson, SacredViolation } from "../src/core/index.js";
import { SacredGuard } from "../src/environment/sacred.js";
import { CampaignMemory, MEMORY_FILES } from "../src/memory/index.js";
import { tempDir } from "./helpers.js";

function setup() {
  const root = tempDir();
  const sacred = path.join(root, "sacred");
  mkdirSync(sacred);
  return { dir: path.join(root, "memory"), guard: new SacredGuard(sacred), sacred };
}

let n = 0;
function lesson(over: Partial<Lesson> & { sig?: string; title?: string } = {}): Lesson {
  const { sig = "sig_a", title = "F401 unused import in src/a.py", ...rest } = over;
  n++;
  return {
    campaignId: "c1",
    cycleId: `cycle_${String(n).padStart(3, "0")}`,
    task: { kind: "failure", target: "F401:src/a.py", signature: sig, title },
    approach: { kind: "fixer", name: "ruff-fix" },
    outcome: "rejected",
    gate: "tests",
    reason: "introduced a new failure",
    files: ["src/a.py"],
    at: new Date(Date.UTC(2025, 0, 1, 0, n)).toISOString(),
    ...rest,
  };
}

const lines = (f: string) => readFileSync(f, "utf8").split("\n").filter(Boolean);

describe("CampaignMemory", () => {
  it("records lessons, derives patterns and avoided issues, and keeps them across campaigns", () => {
    const { dir, guard } = setup();
    const m = new CampaignMemory(dir, { guard });
    m.record(lesson({ sig: "sig_lint", outcome: "promoted", approach: { kind: "fixer", name: "ruff-fix" } }));
    m.record(lesson({ sig: "sig_hard", approach: { kind: "fixer", name: "ruff-fix" } }));
    expect(m.shouldAvoid("sig_hard")).toBe(false);
    m.record(
      lesson({
        sig: "sig_hard",
        approach: { kind: "llm", name: "gpt", diffHash: "d1" },
        reason: "test still fails",
      }),
    );
    expect(m.shouldAvoid("sig_hard")).toBe(true);
    expect(m.shouldAvoid("sig_lint")).toBe(false);
    expect(m.getFailedApproaches("sig_hard").map((l) => l.approach.name)).toEqual(["ruff-fix", "gpt"]);
    expect(m.getFailedApproaches()).toHaveLength(2);
    m.close();

    expect(lines(path.join(dir, MEMORY_FILES.lessons))).toHaveLength(3);
    const patterns = lines(path.join(dir, MEMORY_FILES.patterns)).map((l) => JSON.parse(l));
    expect(patterns.map((p) => [p.signature, p.approach])).toEqual([["sig_lint", "fixer:ruff-fix"]]);
    const avoided = lines(path.join(dir, MEMORY_FILES.avoided)).map((l) => JSON.parse(l));
    expect(avoided).toMatchObject([
      {
        signature: "sig_hard",
        failures: 2,
        approaches: ["fixer:ruff-fix", "llm:gpt"],
        lastReason: "test still fails",
      },
    ]);
    expect(existsSync(path.join(dir, MEMORY_FILES.lock))).toBe(false);

    // a later campaign, with a stricter threshold, still avoids what the first one gave up on
    const m2 = new CampaignMemory(dir, { guard, avoidAfter: 5 });
    expect(m2.warnings).toEqual([]);
    expect(m2.shouldAvoid("sig_hard")).toBe(true);
    expect(m2.avoidedIssues().map((a) => a.signature)).toEqual(["sig_hard"]);
    expect(m2.allLessons()).toHaveLength(3);
    m2.close();
  });

  it("honours a configured threshold", () => {
    const { dir, guard } = setup();
    const m = new CampaignMemory(dir, { guard, avoidAfter: 3 });
    for (let i = 0; i < 2; i++) m.record(lesson({ sig: "sig_x" }));
    expect(m.shouldAvoid("sig_x")).toBe(false);
    m.record(lesson({ sig: "sig_x", outcome: "no_change" }));
    expect(m.shouldAvoid("sig_x")).toBe(true);
    m.close();
    expect(() => new CampaignMemory(dir, { guard, avoidAfter: 0 })).toThrow(/avoidAfter/);
  });

  it("finds similar lessons by BM25, best first, also after reopening", () => {
    const { dir, guard } = setup();
    const m = new CampaignMemory(dir, { guard });
    m.record(
      lesson({
        sig: "j",
        title: "KeyError in merge transformer join keys",
        files: ["odibi/transformers/merge.py"],
      }),
    );
    m.record(lesson({ sig: "l", title: "E501 line too long", files: ["odibi/cli.py"] }));
    m.record(
      lesson({
        sig: "n",
        title: "NotImplementedError in spark engine window",
        files: ["odibi/engine/spark.py"],
      }),
    );
    expect(m.querySimilar("merge join KeyError", 2)[0]?.lesson.task.signature).toBe("j");
    m.close();
    const r = new CampaignMemory(dir, { guard, readOnly: true });
    const hits = r.querySimilar("spark engine NotImplementedError");
    expect(hits[0]?.lesson.task.signature).toBe("n");
    expect(hits.every((h, i) => i === 0 || h.score <= hits[i - 1]!.score)).toBe(true);
    expect(r.querySimilar("   ")).toEqual([]);
    expect(r.querySimilar("zzzunrelated")).toEqual([]);
    expect(() => r.record(lesson())).toThrow(EnvironmentStateError);
    r.close();
  });

  it("still ranks by the rare words when a query's common words appear in most lessons", () => {
    const { dir, guard } = setup();
    const m = new CampaignMemory(dir, { guard });
    for (let i = 0; i < 120; i++)
      m.record(lesson({ sig: `s${i}`, title: `tests failure in module_${i} KeyError` }));
    m.record(
      lesson({
        sig: "spark",
        title: "tests failure in spark_window KeyError",
        files: ["odibi/engine/spark.py"],
      }),
    );
    const hits = m.querySimilar("tests failure KeyError spark_window", 3);
    expect(hits[0]?.lesson.task.signature).toBe("spark");
    // only common words: still answers, from the rarest of them
    expect(m.querySimilar("tests failure", 2)).toHaveLength(2);
    m.close();
  });

  it("skips and reports a torn last line, then appends cleanly after it", () => {
    const { dir, guard } = setup();
    const m = new CampaignMemory(dir, { guard });
    m.record(lesson({ sig: "a" }));
    m.record(lesson({ sig: "b" }));
    m.close();
    const file = path.join(dir, MEMORY_FILES.lessons);
    appendFileSync(file, '{"campaignId":"c1","cycleId":"cyc'); // crash mid-write

    const m2 = new CampaignMemory(dir, { guard });
    expect(m2.allLessons()).toHaveLength(2);
    expect(m2.warnings).toEqual([expect.stringMatching(/lessons\.jsonl:3: torn last line skipped/)]);
    m2.record(lesson({ sig: "c" }));
    m2.close();

    const m3 = new CampaignMemory(dir, { guard, readOnly: true });
    expect(m3.allLessons().map((l) => l.task.signature)).toEqual(["a", "b", "c"]);
    expect(m3.warnings).toEqual([expect.stringMatching(/lessons\.jsonl:3: line is not valid JSON/)]);
    m3.close();
  });

  it("re-derives an avoided record lost between two appends", () => {
    const { dir, guard } = setup();
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, MEMORY_FILES.lessons);
    writeFileSync(
      file,
      `${[lesson({ sig: "z" }), lesson({ sig: "z" }), { bogus: true }].map((l) => JSON.stringify(l)).join("\n")}\n`,
    );
    const m = new CampaignMemory(dir, { guard });
    expect(m.shouldAvoid("z")).toBe(true);
    expect(m.warnings).toEqual([
      expect.stringMatching(/lessons\.jsonl:3: record does not match/),
      expect.stringMatching(/re-derived 1/),
    ]);
    m.close();
    expect(lines(path.join(dir, MEMORY_FILES.avoided))).toHaveLength(1);
  });

  it("allows one writer; takes over the lock of a dead process", () => {
    const { dir, guard } = setup();
    const m = new CampaignMemory(dir, { guard });
    expect(() => new CampaignMemory(dir, { guard })).toThrow(/campaign memory is held by pid/);
    const reader = new CampaignMemory(dir, { guard, readOnly: true });
    reader.close();
    m.close();

    const lockFile = path.join(dir, MEMORY_FILES.lock);
    // a live holder on this host: our parent process
    writeFileSync(lockFile, JSON.stringify({ pid: process.ppid, host: os.hostname(), at: "x" }));
    expect(() => new CampaignMemory(dir, { guard })).toThrow(EnvironmentStateError);
    // a holder whose pid no longer exists
    writeFileSync(lockFile, JSON.stringify({ pid: 2 ** 30, host: os.hostname(), at: "x" }));
    const taken = new CampaignMemory(dir, { guard });
    expect(JSON.parse(readFileSync(lockFile, "utf8")).pid).toBe(process.pid);
    taken.close();
  });

  it("refuses to write memory inside Sacred", () => {
    const { guard, sacred } = setup();
    expect(() => new CampaignMemory(path.join(sacred, "memory"), { guard })).toThrow(SacredViolation);
    expect(existsSync(path.join(sacred, "memory"))).toBe(false);
  });
});
