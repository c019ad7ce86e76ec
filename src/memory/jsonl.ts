import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import path from "node:path";
import type { z } from "zod";
import type { SacredGuard } from "../environment/sacred.js";
import { processRedactor } from "../llm/redact.js";

/**
 * Append-only JSON Lines. A crash can leave the last line half-written; reading skips it (and any other line that
 * does not parse or validate) with a warning instead of failing, because losing one record must never stop a
 * campaign or a report.
 */

export interface JsonlRead<T> {
  records: T[];
  warnings: string[];
  /** False when the file does not end with a newline (torn write): the next append must start a fresh line. */
  endsClean: boolean;
}

export function readJsonl<T>(file: string, schema: z.ZodType<T>): JsonlRead<T> {
  if (!existsSync(file)) return { records: [], warnings: [], endsClean: true };
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  const endsClean = text.length === 0 || text.endsWith("\n");
  // split leaves "" after a final newline: not a record.
  if (lines[lines.length - 1] === "") lines.pop();
  const records: T[] = [];
  const warnings: string[] = [];
  const name = path.basename(file);
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const isLast = i === lines.length - 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      warnings.push(
        isLast && !endsClean
          ? `${name}:${i + 1}: torn last line skipped (an interrupted write; the record is lost)`
          : `${name}:${i + 1}: line is not valid JSON, skipped`,
      );
      return;
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) records.push(parsed.data);
    else
      warnings.push(
        `${name}:${i + 1}: record does not match the expected shape, skipped (${parsed.error.issues[0]?.message ?? "invalid"})`,
      );
  });
  return { records, warnings, endsClean };
}

/** Appends one record as one line (secrets redacted) and fsyncs, so an acknowledged record survives a power cut. */
export function appendJsonl(guard: SacredGuard, file: string, record: unknown): void {
  guard.assertWritable(file);
  const fd = openSync(file, "a");
  try {
    writeSync(fd, `${processRedactor().text(JSON.stringify(record))}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Ends a torn last line with a newline so the next record does not glue onto it. */
export function terminateTornLine(guard: SacredGuard, file: string): void {
  guard.assertWritable(file);
  appendFileSync(file, "\n");
}
