import { createHash } from "node:crypto";
import type { StoryNode } from "../stories/story-parser.js";

/**
 * How the usage analysis reads a node: its operations (the n-gram alphabet), the transformer a failure happened in,
 * and an error message with what varies between runs masked.
 */

/** The label of an inline or file SQL step in an operation sequence. */
export const SQL_OP = "sql";

/** A node's operations, in order: its `transformer:` (transformer or pattern), then each transform step. */
export function nodeOperations(node: StoryNode): string[] {
  const ops = node.transformer ? [node.transformer] : [];
  for (const s of node.steps) ops.push(s.kind === "function" || s.kind === "operation" ? s.name! : SQL_OP);
  if (ops.length === 0 && node.status === "failed") {
    const t = failedIn(node.traceback);
    if (t) ops.push(t);
  }
  return ops;
}

/**
 * The odibi transformer or pattern a traceback failed in: the innermost frame in `odibi/transformers/<m>.py` (its
 * function) or `odibi/patterns/<p>.py` (the pattern's module). odibi records no config for a node that failed.
 */
export function failedIn(traceback: string | undefined): string | undefined {
  if (!traceback) return undefined;
  let found: string | undefined;
  const frame = /odibi[/\\](transformers|patterns)[/\\](\w+)\.py", line \d+, in (\w+)/g;
  for (const m of traceback.matchAll(frame)) {
    const [, kind, module, fn] = m;
    if (kind === "patterns" && module !== "base") found = module;
    else if (kind === "transformers" && !fn!.startsWith("_")) found = fn;
  }
  return found;
}

/**
 * A failure message with its variable parts masked, so that one bug seen with different data is one cluster:
 * paths → `<path>`, quoted text (nested quotes too) → `<name>`, numbers and hex ids → `<n>`; only the first line counts.
 */
export function normalizeMessage(message: string): string {
  const first = message.trim().split("\n")[0] ?? "";
  return (
    first
      .replace(/(?:[A-Za-z]:)?(?:[\\/][\w.@~+-]+){2,}[\\/]?/g, "<path>")
      .replace(/"[^"]*"|'[^']*'|`[^`]*`/g, "<name>")
      // Quotes inside quotes (`"+("NULL", INTERVAL)"`) leave `<name>NULL<name>`: one name.
      .replace(/<name>(?:[^\s<]*<name>)+/g, "<name>")
      .replace(/\b0x[0-9a-f]+\b/gi, "<n>")
      .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "<n>")
      .replace(/\b\w*\d[\w]*\b/g, (w) => (/^\d+(?:\.\d+)?$/.test(w) ? "<n>" : w.replace(/\d+/g, "<n>")))
      .replace(/\s+/g, " ")
      .trim()
      .slice(0, 300)
  );
}

/** A cluster of failures an install fixes, not a code change (a missing optional package): reported, never work. */
export function needsInstall(c: { errorType: string }): boolean {
  return c.errorType === "ImportError" || c.errorType === "ModuleNotFoundError";
}

/** A short stable id for a text (a cluster's or a suggestion's signature). */
export function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}
