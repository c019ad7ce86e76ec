/**
 * bench/sandbox: sandbox create+destroy against `cp -a` of the same tree, measured in the same run.
 * Trees: the real odibi source (sdist) and a generated 100k-file tree. Strategies:
 *  - fresh:   git clone --shared + checkout (what a first cycle does), then rm
 *  - worktree: git worktree add + remove (the alternative design; not used: a worktree's .git points into
 *              Master's, so code run in it could move Master's refs)
 *  - recycle: reset of the previous cycle's sandbox (what every later cycle does), then park it
 *  - cp -a:   the baseline (a plain copy + rm -rf)
 * Reflink/overlay are not used: this machine's filesystem is reported below; ext4 has neither.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ImprovementEnvironment } from "../src/environment/environment.js";
import { git } from "../src/environment/git.js";
import { runProcess } from "../src/exec/run-process.js";
import { profileOf } from "../src/profiles/index.js";
import { ensureOdibiSource } from "../src/pyenv/python-env.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function time(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function cpA(src: string, dest: string): Promise<void> {
  // `cp -a` is the baseline named by the issue; on Windows there is none, so the bench says so.
  const r = await runProcess("cp", ["-a", src, dest], { cwd: os.tmpdir() });
  if (r.exitCode !== 0) throw new Error(`cp -a failed: ${r.stderr}`);
  rmSync(dest, { recursive: true, force: true });
}

function makeBigTree(dir: string, files: number): void {
  for (let i = 0; i < files; i++) {
    const d = path.join(dir, `d${Math.floor(i / 1000)}`);
    if (i % 1000 === 0) mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, `f${i}.py`), `X_${i} = ${i}\n`);
  }
}

async function benchTree(label: string, source: string, work: string): Promise<void> {
  const env = await ImprovementEnvironment.init({
    source,
    root: path.join(work, "root"),
    profile: profileOf("generic"),
  });
  const fresh: number[] = [];
  const recycle: number[] = [];
  const cp: number[] = [];
  const worktree: number[] = [];
  let cycle = 0;
  for (let i = 0; i < ROUNDS; i++) {
    cp.push(await time(() => cpA(env.layout.master, path.join(work, "cp-copy"))));
    fresh.push(
      await time(async () => {
        const s = await env.createSandbox(++cycle);
        await env.destroySandbox(s);
      }),
    );
    const wt = path.join(work, "wt");
    worktree.push(
      await time(async () => {
        await git(env.layout.master, ["worktree", "add", "-q", "--detach", wt, "HEAD"]);
        await git(env.layout.master, ["worktree", "remove", "--force", wt]);
      }),
    );
    // Recycle: park a used sandbox, then time reset + park again (one cycle's cost).
    const used = await env.createSandbox(++cycle, { reuse: true });
    writeFileSync(path.join(used.path, "candidate_change.py"), "Y = 1\n");
    await env.destroySandbox(used, { recycle: true });
    recycle.push(
      await time(async () => {
        const s = await env.createSandbox(++cycle, { reuse: true });
        await env.destroySandbox(s, { recycle: true });
      }),
    );
  }
  const base = median(cp);
  const row = (name: string, xs: number[]) =>
    `  ${name.padEnd(34)} ${median(xs).toFixed(0).padStart(7)} ms   ${(median(xs) / base).toFixed(2)}× of cp -a`;
  console.log(`\n${label} (median of ${ROUNDS})`);
  console.log(row("cp -a + rm -rf (baseline)", cp));
  console.log(row("fresh: clone --shared + checkout", fresh));
  console.log(row("worktree add + remove", worktree));
  console.log(row("recycle: reset of used sandbox", recycle));
}

export async function run(): Promise<void> {
  const fs = await runProcess("df", ["-T", os.tmpdir()], { cwd: os.tmpdir() });
  console.log(
    `bench/sandbox — filesystem: ${fs.stdout.trim().split("\n").at(-1)?.split(/\s+/)[1] ?? "unknown"} (no reflink/overlay used)`,
  );
  const work = mkdtempSync(path.join(os.tmpdir(), "oi-bench-sandbox-"));
  try {
    await benchTree("odibi source (sdist)", await ensureOdibiSource(), path.join(work, "odibi"));
    const big = path.join(work, "big-src");
    makeBigTree(big, Number(process.env.BENCH_FILES ?? 100_000));
    await benchTree(
      `generated tree (${process.env.BENCH_FILES ?? 100_000} files)`,
      big,
      path.join(work, "big"),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
