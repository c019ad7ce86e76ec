/**
 * bench/analyze: the usage analysis (src/analysis) over 10,000 stories (BENCH_STORIES to change), copies with
 * variations of the real odibi 3.15.1 stories in tests/fixtures/stories (pipeline names, run ids, start times and the
 * column names in error messages differ), against a baseline measured in the same run: reading and JSON.parse of
 * the same files, nothing else.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { analyzeStories } from "../src/analysis/analyze.js";
import { pythonConstantsAsNull } from "../src/stories/story-parser.js";

const STORIES = Number(process.env.BENCH_STORIES ?? 10_000);
const FIXTURES = path.resolve(import.meta.dirname, "..", "tests", "fixtures", "stories");

type Raw = Record<string, unknown> & { nodes: Array<Record<string, unknown>> };

function realStories(): Raw[] {
  return readdirSync(FIXTURES, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(pythonConstantsAsNull(readFileSync(path.join(FIXTURES, f), "utf8"))) as Raw)
    .filter((d) => "pipeline_name" in d);
}

/** Story `i`: a real one, renamed and re-timed, its failures naming another column. */
function variation(base: Raw, i: number): Raw {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 37_000).toISOString();
  const nodes = base.nodes.map((n) =>
    typeof n.error_message === "string"
      ? { ...n, error_message: n.error_message.replace(/column "(\w+)"/g, `column "col_${i % 97}"`) }
      : n,
  );
  return {
    ...base,
    pipeline_name: `${String(base.pipeline_name)}_${i % 50}`,
    run_id: `bench-${i}`,
    started_at: at,
    completed_at: at,
    nodes,
  };
}

function writeCorpus(dir: string): number {
  const real = realStories();
  let bytes = 0;
  for (let i = 0; i < STORIES; i++) {
    const s = variation(real[i % real.length]!, i);
    const folder = path.join(dir, String(s.pipeline_name), "2026-01-01");
    mkdirSync(folder, { recursive: true });
    const text = JSON.stringify(s);
    bytes += text.length;
    writeFileSync(path.join(folder, `run_${i}.json`), text);
  }
  return bytes;
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const t = performance.now();
  const value = fn();
  return { ms: performance.now() - t, value };
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "oi-bench-analyze-"));
  try {
    const bytes = writeCorpus(dir);
    console.log(`\nbench/analyze: ${STORIES} stories, ${(bytes / 1e6).toFixed(1)} MB of JSON`);
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".json"));
    const baseline = time(() => {
      let nodes = 0;
      for (const f of files)
        nodes += (JSON.parse(readFileSync(path.join(dir, f), "utf8")) as Raw).nodes.length;
      return nodes;
    });
    const heapBefore = process.memoryUsage().heapUsed;
    const analysis = time(() => analyzeStories([{ dir }]));
    const a = analysis.value;
    if (a.stories !== STORIES || a.nodes !== baseline.value)
      throw new Error("the analysis did not read every story");
    console.log(
      `read + JSON.parse: ${baseline.ms.toFixed(0)} ms; analyze: ${analysis.ms.toFixed(0)} ms → ${(analysis.ms / baseline.ms).toFixed(1)}× the baseline, ${Math.round(STORIES / (analysis.ms / 1000))} stories/s`,
    );
    console.log(
      `${a.failures.length} failure clusters (${a.failures.map((f) => f.count).join(", ")}), ${a.patterns.length} patterns, ${a.suggestions.length} suggestions; heap after ${((process.memoryUsage().heapUsed - heapBefore) / 1e6).toFixed(0)} MB more`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
