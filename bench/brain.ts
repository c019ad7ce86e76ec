/**
 * `npm run bench -- brain`: the acceptance corpus of issue 12 (tests/brain-corpus.ts). Each defect is injected into
 * a copy of odibi 3.15.1's sdist and replayed as a full campaign through the real CLI (odibi profile, jailed gates)
 * against the scripted model, which acts only on what the conversation shows. Prints per defect: the checks failing
 * on Master before the campaign (checked against the corpus), fixed, promoted in which cycle, model calls, tokens;
 * then the totals. `BRAIN_BENCH_ONLY=id,id` runs a subset; `BRAIN_BENCH_KEEP=1` keeps each defect's folder (Sacred copy
 * and root: trajectories, reports) and prints where it is. `BRAIN_BENCH_QUEUE=1` runs each model attempt on an
 * `odibi-improve worker` process through a real Redis on a loopback port (`run --queue`, issue 16).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureOdibiSource, ensurePythonEnv } from "../src/pyenv/python-env.js";
import { CORPUS, type CorpusResult, runCorpusDefect } from "../tests/brain-corpus.js";
import { startRedis } from "../tests/redis-server.js";

const CLI = path.resolve(import.meta.dirname, "..", "bin", "odibi-improve.js");

export async function run(): Promise<void> {
  const { venv } = await ensurePythonEnv({ odibi: true });
  const odibiSource = await ensureOdibiSource();
  const only = (process.env.BRAIN_BENCH_ONLY ?? "").split(",").filter(Boolean);
  const defects = CORPUS.filter((d) => only.length === 0 || only.includes(d.id));
  console.log(`brain corpus: ${defects.length} defects in odibi 3.15.1, one campaign each (max 1 cycle)`);
  const redis = process.env.BRAIN_BENCH_QUEUE === "1" ? await startRedis() : undefined;
  if (redis) console.log(`model attempts on a worker process through Redis at ${redis.url}`);
  const results: CorpusResult[] = [];
  for (const d of defects) {
    const workDir = mkdtempSync(path.join(os.tmpdir(), `brain-bench-${d.id}-`));
    const r = await runCorpusDefect(d, {
      venv,
      odibiSource,
      cli: CLI,
      workDir,
      ...(redis ? { queue: redis.url } : {}),
    });
    if (process.env.BRAIN_BENCH_KEEP === "1") console.log(`  kept ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
    results.push(r);
    const asExpected = JSON.stringify(r.baselineFails) === JSON.stringify([...d.fails].sort());
    console.log(
      [
        d.id.padEnd(24),
        d.kind.padEnd(6),
        r.fixed ? "fixed" : "NOT fixed",
        r.promotedCycle === null ? "not promoted" : `promoted in cycle ${r.promotedCycle}`,
        `${r.calls} calls`,
        `${r.tokens} tokens`,
        `${r.seconds}s`,
        r.stopReason,
        asExpected ? "baseline as expected" : `BASELINE DIFFERS: ${r.baselineFails.join(" ") || "(none)"}`,
      ].join(" | "),
    );
  }
  const inCycle1 = results.filter((r) => r.fixed && r.promotedCycle === 1).length;
  const sum = (f: (r: CorpusResult) => number) => results.reduce((s, r) => s + f(r), 0);
  console.log(
    `total: ${inCycle1}/${results.length} fixed and promoted in cycle 1 ` +
      `(pytest ${results.filter((r) => r.kind === "pytest" && r.fixed && r.promotedCycle === 1).length}/${results.filter((r) => r.kind === "pytest").length}, ` +
      `golden ${results.filter((r) => r.kind === "golden" && r.fixed && r.promotedCycle === 1).length}/${results.filter((r) => r.kind === "golden").length}); ` +
      `${sum((r) => r.calls)} model calls, ${sum((r) => r.tokens)} tokens, ${sum((r) => r.seconds)}s`,
  );
  await redis?.close();
}
