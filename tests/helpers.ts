import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { git } from "../src/environment/git.js";
import { type Fingerprint, takeFingerprint } from "../src/environment/sacred.js";

const made: string[] = [];
afterAll(() => {
  if (process.env.KEEP_TMP) return;
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh temp folder (removed after the file's tests; KEEP_TMP=1 keeps it). Spaces and non-ASCII on purpose. */
export function tempDir(prefix = "oi test é "): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

/** A real git repository with the given files committed. */
export async function makeGitRepo(dir: string, files: Record<string, string>): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFiles(dir, files);
  await git(dir, ["init", "-q", "-b", "main"]);
  await git(dir, ["add", "-A"]);
  await git(dir, ["commit", "-q", "-m", "initial"]);
  return dir;
}

/** Byte-identity witness for Sacred: take before, compare after. */
export function sacredWitness(dir: string): { before: Fingerprint; digestNow(): string } {
  const before = takeFingerprint(dir);
  return { before, digestNow: () => takeFingerprint(dir).digest };
}

export const CLI = path.resolve(import.meta.dirname, "..", "bin", "odibi-improve.js");

/** The last line of a command's `--json` output: its result (or error) object (src/cli/json-schemas.ts). */
// biome-ignore lint/suspicious/noExplicitAny: JSON as the CLI wrote it
export function resultJson(stdout: string): Record<string, any> {
  const last = stdout.trimEnd().split("\n").at(-1) ?? "";
  return JSON.parse(last);
}
