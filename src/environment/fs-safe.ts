import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import path from "node:path";
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
  renameSync(tmp, file);
}

export function mkdirGuarded(guard: SacredGuard, dir: string): void {
  guard.assertWritable(dir);
  mkdirSync(dir, { recursive: true });
}

export function rmGuarded(guard: SacredGuard, target: string): void {
  guard.assertWritable(target);
  rmSync(target, { recursive: true, force: true, maxRetries: 3 });
}
