import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";

/**
 * Reading a growing file from an offset, whole lines at a time, never the whole file: the run log and the event log
 * of a long campaign are large, and the dashboard's live log follows them by byte offset (the SSE event id).
 */

/** How much of a large log a new reader starts with (the end of it). */
export const TAIL_START_BYTES = 64 * 1024;
/** The most one read returns. */
export const READ_MAX_BYTES = 256 * 1024;

export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readRange(file: string, from: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const fd = openSync(file, "r");
  try {
    const n = readSync(fd, buf, 0, length, from);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * The complete lines of `file` from byte `offset` on (at most `maxBytes`), and the offset after them. A file shorter
 * than `offset` (replaced) is read from 0; a line longer than `maxBytes` is returned in pieces.
 */
export function readLinesFrom(
  file: string,
  offset: number,
  maxBytes = READ_MAX_BYTES,
): { text: string; next: number } {
  const size = fileSize(file);
  const from = offset > size ? 0 : offset;
  if (!existsSync(file) || size === from) return { text: "", next: from };
  const buf = readRange(file, from, Math.min(maxBytes, size - from));
  const lastNewline = buf.lastIndexOf(0x0a);
  const end = lastNewline >= 0 ? lastNewline + 1 : buf.length === maxBytes ? buf.length : 0;
  return { text: buf.subarray(0, end).toString("utf8"), next: from + end };
}

/** Where a new reader of `file` starts: 0, or the first line of its last `tailBytes`. */
export function tailStart(file: string, tailBytes = TAIL_START_BYTES): number {
  const size = fileSize(file);
  if (size <= tailBytes) return 0;
  const buf = readRange(file, size - tailBytes, tailBytes);
  const nl = buf.indexOf(0x0a);
  return size - tailBytes + (nl >= 0 ? nl + 1 : 0);
}

/** The last `n` lines of a file (read from its end only). */
export function lastLines(file: string, n: number, tailBytes = 16 * 1024): string[] {
  const size = fileSize(file);
  if (size === 0) return [];
  const from = Math.max(0, size - tailBytes);
  const lines = readRange(file, from, size - from)
    .toString("utf8")
    .split("\n")
    .filter((l) => l.trim());
  if (from > 0) lines.shift(); // cut mid-line
  return lines.slice(-n);
}

/**
 * The gate command the run is running now: the run log's last line when it is a command line (`[tests] python -m
 * pytest …`), started when that line was written (the log's mtime). Null when the last line is not a command.
 */
export function currentCommand(logFile: string): { gate: string; command: string; since: Date } | null {
  const last = lastLines(logFile, 1)[0];
  const m = last ? /^\[[^\]]*\]\s+\[([\w.:-]+)\] (.+)$/.exec(last) : null;
  if (!m || m[2]!.startsWith("cached result")) return null;
  return { gate: m[1]!, command: m[2]!, since: statSync(logFile).mtime };
}
