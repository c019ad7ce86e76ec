import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { OdibiImproveError } from "../core/errors.js";
import { removeRetrying, renameRetrying } from "../core/fs-retry.js";
import { isInside } from "../core/paths.js";
import { processRedactor } from "../llm/redact.js";
import type { SacredGuard } from "./sacred.js";

/**
 * Writes that go through the Sacred guard. Atomic replace: temp file + fsync + rename, so a reader (or a crash)
 * never sees half a file. Text is written with the environment's secrets redacted (status, reports, records, caches).
 */
/** A text file's contents, or undefined when it cannot be read (absent, a folder, no permission). */
export function readTextIf(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

export function writeFileAtomic(guard: SacredGuard, file: string, data: string | Uint8Array): void {
  guard.assertWritable(file);
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(processRedactor().text(data)) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameRetrying(tmp, file);
}

export function mkdirGuarded(guard: SacredGuard, dir: string): void {
  guard.assertWritable(dir);
  mkdirSync(dir, { recursive: true });
}

export function rmGuarded(guard: SacredGuard, target: string): void {
  guard.assertWritable(target);
  removeRetrying(target);
}

/**
 * A path under a sandbox could not be used without following a link (or leads out of it). Everything under a
 * sandbox is hostile: code run by the gates may have replaced any file or folder by a link to anywhere.
 */
export class UnsafePathError extends OdibiImproveError {}

/** 0 where the platform has no O_NOFOLLOW (Windows): the lstat checks below then stand alone. */
const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;
/** Opening a FIFO for writing never blocks (it fails without a reader); no effect on a regular file. */
const O_NONBLOCK = fsConstants.O_NONBLOCK ?? 0;

function segmentsBelow(root: string, abs: string): string[] {
  const rel = path.relative(root, abs);
  if (rel === "" || !isInside(abs, root)) throw new UnsafePathError(`${abs} is not inside ${root}`);
  return rel.split(path.sep);
}

function lstatIf(p: string): import("node:fs").Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/**
 * The first folder on the way from `root` to `abs` (exclusive) that is not a real folder (a link, a file), checked
 * with lstat now; undefined when every existing one is a real folder.
 */
function firstNonFolder(root: string, abs: string): string | undefined {
  const segments = segmentsBelow(root, abs);
  let cur = root;
  for (const seg of segments.slice(0, -1)) {
    cur = path.join(cur, seg);
    const st = lstatIf(cur);
    if (!st) return undefined;
    if (!st.isDirectory()) return cur;
  }
  return undefined;
}

/**
 * Remove one entry that is not a real folder (a link or a file). rm's recursive mode because it removes a link to
 * a folder on Windows too (plain unlink fails there); it never descends a link.
 */
function removeEntry(p: string): void {
  removeRetrying(p);
}

function createExclusive(abs: string, content: string): void {
  const fd = openSync(
    abs,
    fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | O_NOFOLLOW,
    0o644,
  );
  try {
    writeSync(fd, Buffer.from(content));
  } finally {
    closeSync(fd);
  }
}

/**
 * Put the file `abs` under `root` back to `content` (undefined: absent) without following any link. A link or file
 * standing where a folder of the path should be is removed (the link, never its target) and the folder made again;
 * whatever is at `abs` is removed the same way and the file created anew (O_EXCL, O_NOFOLLOW: never through a link).
 */
export function restoreInside(root: string, abs: string, content: string | undefined): void {
  for (let bad = firstNonFolder(root, abs); bad; bad = firstNonFolder(root, abs)) {
    removeEntry(bad);
    if (content !== undefined) mkdirSync(bad);
  }
  if (lstatIf(abs)) removeRetrying(abs);
  if (content === undefined) return;
  mkdirSync(path.dirname(abs), { recursive: true });
  createExclusive(abs, content);
}

/**
 * Remove `abs` under `root` when it is reachable through real folders only (otherwise it is not there: nothing is
 * removed). A link is removed, never its target; a linked folder is not descended.
 */
export function removeInside(root: string, abs: string): void {
  if (firstNonFolder(root, abs)) return;
  removeRetrying(abs);
}

/**
 * Write the file `abs` under `root`, refusing links: every folder on the way must be a real folder and the file a
 * regular file or absent (O_NOFOLLOW; the opened file is checked with fstat).
 */
export function writeInside(root: string, abs: string, content: string): void {
  const bad = firstNonFolder(root, abs);
  if (bad)
    throw new UnsafePathError(`${path.relative(root, bad)} is not a folder (a link?): refusing to write`);
  const fd = openSync(abs, fsConstants.O_WRONLY | fsConstants.O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644);
  try {
    if (!fstatSync(fd).isFile())
      throw new UnsafePathError(`${path.relative(root, abs)} is not a regular file: refusing to write`);
    ftruncateSync(fd, 0); // only once the file is known to be a regular file
    writeSync(fd, Buffer.from(content));
  } finally {
    closeSync(fd);
  }
}

/**
 * Make `dir` under `root` a real folder, every folder on the way too: a link or file standing where one of them
 * belongs is removed (the link, never its target) and replaced by a folder. For folders the host makes inside a
 * tree that jailed code could write (a gate's output folder).
 */
export function folderInside(root: string, dir: string): void {
  mkdirSync(root, { recursive: true }); // the root is the host's own
  let cur = root;
  for (const seg of segmentsBelow(root, dir)) {
    cur = path.join(cur, seg);
    const st = lstatIf(cur);
    if (st?.isDirectory()) continue;
    if (st) removeEntry(cur);
    mkdirSync(cur);
  }
}
