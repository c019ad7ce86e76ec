/**
 * bench/memory: CampaignMemory at 100k lessons (BENCH_LESSONS to change), against baselines measured in the same run:
 *  - open (JSONL read + zod + BM25 index build) vs a bare JSON.parse of every line
 *  - querySimilar (BM25, top 5) vs a linear scan scoring every lesson by shared words
 *  - getFailedApproaches(signature) / shouldAvoid vs filtering the whole array
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Lesson } from "../src/core/types.js";
import { SacredGuard } from "../src/environment/sacred.js";
import { CampaignMemory, MEMORY_FILES } from "../src/memory/index.js";

const LESSONS = Number(process.env.BENCH_LESSONS ?? 100_000);
const QUERIES = 200;

const WORDS =
  "merge join window pivot unpivot dedupe scd2 spark pandas polars delta azure blob sql keyerror valueerror typeerror null schema column partition cast timestamp timezone aggregate filter sort rename explode flatten struct validate golden harness lint unused import format fixture config yaml connection catalog lineage story node pipeline".split(
    " ",
  );

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Real lessons mix a few common words (failure, tests, KeyError) with many rare identifiers (file, test and column
 * names). `rareShare` is the chance a word is a rare identifier out of `RARE` of them; 0 gives the worst case for
 * an inverted index (every word in a large share of lessons).
 */
const RARE = 20_000;
function makeLessons(n: number, rareShare: number): Lesson[] {
  const r = rng(42);
  const pick = () =>
    r() < rareShare
      ? `${WORDS[Math.floor(r() * WORDS.length)]}_${Math.floor(r() * RARE)}`
      : WORDS[Math.floor(r() * WORDS.length)]!;
  const out: Lesson[] = [];
  for (let i = 0; i < n; i++) {
    const sig = `sig_${(i % 5000).toString(16).padStart(16, "0")}`;
    out.push({
      campaignId: `c${Math.floor(i / 1000)}`,
      cycleId: `cycle_${String(i % 1000).padStart(3, "0")}`,
      task: {
        kind: "failure",
        target: `odibi/${pick()}/${pick()}.py::test_${pick()}`,
        signature: sig,
        title: `${pick()} ${pick()} ${pick()} in ${pick()} ${pick()}`,
      },
      approach: {
        kind: i % 3 ? "llm" : "fixer",
        name: i % 3 ? "gpt-4o-mini" : "ruff-fix",
        summary: `changed ${pick()} handling of ${pick()} ${pick()}`,
        diffHash: String(i),
      },
      outcome: i % 4 ? "rejected" : "promoted",
      gate: "tests",
      reason: `${pick()} ${pick()} still fails`,
      files: [`odibi/${pick()}.py`],
      at: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString(),
    });
  }
  return out;
}

function lessonText(l: Lesson): string {
  return [l.task.title, l.task.target, l.approach.name, l.approach.summary, l.reason, ...l.files]
    .join(" ")
    .toLowerCase();
}

/** The baseline: score every lesson by how many query words occur in its text. */
function linearSimilar(texts: string[], query: string, k: number): number[] {
  const words = query.toLowerCase().split(/\W+/).filter(Boolean);
  const scored: [number, number][] = [];
  texts.forEach((t, i) => {
    let s = 0;
    for (const w of words) if (t.includes(w)) s++;
    if (s > 0) scored.push([s, i]);
  });
  return scored
    .sort((a, b) => b[0] - a[0])
    .slice(0, k)
    .map(([, i]) => i);
}

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 3 : 1)} ms`;

export async function run(): Promise<void> {
  await runCase("realistic vocabulary (half the words are rare identifiers)", 0.5);
  await runCase("worst case (60 common words only)", 0);
}

async function runCase(label: string, rareShare: number): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), "oi-bench-memory-"));
  try {
    const sacred = path.join(root, "sacred");
    mkdirSync(sacred);
    const dir = path.join(root, "memory");
    mkdirSync(dir);
    const lessons = makeLessons(LESSONS, rareShare);
    const file = path.join(dir, MEMORY_FILES.lessons);
    writeFileSync(file, `${lessons.map((l) => JSON.stringify(l)).join("\n")}\n`);
    console.log(
      `\nbench/memory, ${label}: ${LESSONS} lessons, ${(readFileSync(file).length / 1e6).toFixed(1)} MB of JSONL`,
    );

    let parsed: Lesson[] = [];
    const parseMs = time(() => {
      parsed = readFileSync(file, "utf8")
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as Lesson);
    });
    let mem: CampaignMemory | undefined;
    const openMs = time(() => {
      mem = new CampaignMemory(dir, { guard: new SacredGuard(sacred), readOnly: true });
    });
    const m = mem!;
    if (m.allLessons().length !== parsed.length) throw new Error("memory did not load every lesson");
    console.log(
      `open: ${fmt(openMs)} vs bare JSON.parse ${fmt(parseMs)} → ${(openMs / parseMs).toFixed(1)}× the baseline`,
    );

    const r = rng(7);
    // Queries are titles of lessons (what the brain asks with: the current task), so they share the data's mix.
    const queries = Array.from(
      { length: QUERIES },
      () => parsed[Math.floor(r() * parsed.length)]!.task.title,
    );
    const texts = parsed.map(lessonText);
    const firstMs = time(() => m.querySimilar(queries[0]!, 5));
    console.log(
      `first query (builds the BM25 index): ${fmt(firstMs)} → ${(firstMs / parseMs).toFixed(1)}× the bare parse`,
    );
    let hits = 0;
    const bm25Ms = time(() => {
      for (const q of queries) hits += m.querySimilar(q, 5).length;
    });
    let linHits = 0;
    const linearMs = time(() => {
      for (const q of queries) linHits += linearSimilar(texts, q, 5).length;
    });
    console.log(
      `querySimilar (top 5): ${fmt(bm25Ms / QUERIES)}/query vs linear scan ${fmt(linearMs / QUERIES)}/query → ${(linearMs / bm25Ms).toFixed(1)}× faster (${hits}/${linHits} hits)`,
    );

    const sigs = Array.from(
      { length: QUERIES },
      (_, i) => `sig_${((i * 37) % 5000).toString(16).padStart(16, "0")}`,
    );
    let n1 = 0;
    const bySigMs = time(() => {
      for (const s of sigs) n1 += m.getFailedApproaches(s).length + (m.shouldAvoid(s) ? 1 : 0);
    });
    let n2 = 0;
    const scanMs = time(() => {
      for (const s of sigs) {
        const f = parsed.filter((l) => l.task.signature === s && l.outcome !== "promoted");
        n2 += f.length + (f.length >= 2 ? 1 : 0);
      }
    });
    if (n1 !== n2) throw new Error(`signature lookups disagree: ${n1} vs ${n2}`);
    console.log(
      `failed approaches + shouldAvoid by signature: ${fmt(bySigMs / QUERIES)}/lookup vs array filter ${fmt(scanMs / QUERIES)}/lookup → ${(scanMs / bySigMs).toFixed(0)}× faster`,
    );
    m.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
