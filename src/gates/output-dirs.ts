import { lstatSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";

/**
 * Folders under a gate output folder, which jailed code can write: an earlier run may have left a symlink (to
 * Sacred, to HOME) or a FIFO where the host expects a folder. `mkdirSync(recursive)`, `rmSync` and writes through a
 * path would follow such a link out of the folder. This walks `rel` one segment at a time below `base` and
 * replaces anything that is not a real folder (the link itself is removed, never followed). Call it only while no
 * jailed command runs (the jail's PID namespace ends with each command).
 */
export function ensureRealDir(base: string, ...rel: string[]): string {
  let dir = base;
  mkdirSync(base, { recursive: true });
  for (const seg of rel.flatMap((r) => r.split(/[\\/]/)).filter(Boolean)) {
    dir = path.join(dir, seg);
    const st = lstatSync(dir, { throwIfNoEntry: false });
    if (st?.isDirectory()) continue;
    if (st) rmSync(dir, { force: true });
    mkdirSync(dir);
  }
  return dir;
}

/** `ensureRealDir`, emptied: what an earlier run left there is removed (rm does not follow links inside). */
export function freshRealDir(base: string, ...rel: string[]): string {
  const dir = ensureRealDir(base, ...rel);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  return dir;
}

/** A file written by the host into such a folder: whatever stands at its name (a link, a FIFO) is removed first. */
export function replaceFileIn(dir: string, name: string): string {
  const file = path.join(dir, name);
  rmSync(file, { recursive: true, force: true });
  return file;
}
