import { createHash } from "node:crypto";

/**
 * Failure signatures (DESIGN.md §5): a stable hash of (gate, check id, error type, message) with everything that
 * changes between runs and machines normalised away, so memory recognises "the same failure" tomorrow, on another
 * machine, after the code around it moved by a few lines.
 */

export interface SignatureInput {
  gate?: string;
  checkId?: string;
  errorType?: string;
  message?: string;
}

// Order matters: the broad patterns (numbers) run last, after the shapes that contain digits are replaced whole.
const TIMESTAMP = /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g;
const CLOCK = /\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const HEX_PREFIXED = /\b0x[0-9a-f]+\b/gi;
// A run of 7+ hex characters with at least one digit and one letter: git shas, object ids, hashes.
const HEX_ID = /\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b/gi;
const DRIVE = /\b[A-Za-z]:(?=\/)/g;
// Temp folders on Linux, macOS and Windows; the random part that follows is dropped with them.
const TEMP_PATH =
  /(?<![\w.])(?:\/private)?\/(?:tmp|var\/folders\/[^\s/'"]+\/[^\s/'"]+\/T|var\/tmp)(?=[/\s'"():,]|$)(?:\/[^\s'"():,]+)*|(?:\/[^\s/'"]+)*\/AppData\/Local\/Temp(?:\/[^\s'"():,]+)*/gi;
// An absolute path keeps only its last two components: the user's home and checkout location vary by machine.
const ABS_PATH = /(?<![\w.<>])(?:\/[^\s/'"():,]+){3,}/g;
const LINE_WORD = /\b(line|lineno|ln|col|column)\s*[:=]?\s*\d+/gi;
const FILE_LINE = /(\.[A-Za-z]{1,5}):\d+(?::\d+)?/g;
const NUMBER = /(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])/gi;

function lastTwo(p: string): string {
  const parts = p.split("/").filter(Boolean);
  return `<path>/${parts.slice(-2).join("/")}`;
}

function normalisePaths(s: string): string {
  return s.replace(/\\+/g, "/").replace(DRIVE, "").replace(TEMP_PATH, "<tmp>").replace(ABS_PATH, lastTwo);
}

/** The message as the signature sees it. Exported for tests and for showing in reports what was compared. */
export function normaliseMessage(message: string): string {
  return normalisePaths(message)
    .replace(TIMESTAMP, "<ts>")
    .replace(CLOCK, "<ts>")
    .replace(UUID, "<uuid>")
    .replace(HEX_PREFIXED, "<hex>")
    .replace(HEX_ID, "<hex>")
    .replace(LINE_WORD, "$1 <n>")
    .replace(FILE_LINE, "$1:<n>")
    .replace(NUMBER, "<n>")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Check ids keep their numbers (a parametrised `test_x[3]` is not `test_x[4]`) but lose line:column suffixes
 * (`F401:src/a.py:3`) and machine-specific path prefixes.
 */
export function normaliseCheckId(checkId: string): string {
  return normalisePaths(checkId).replace(FILE_LINE, "$1").trim();
}

/** `sig_` + 16 hex characters of sha256 over the normalised fields. */
export function failureSignature(input: SignatureInput): string {
  const fields = [
    (input.gate ?? "").trim().toLowerCase(),
    normaliseCheckId(input.checkId ?? ""),
    (input.errorType ?? "").trim(),
    normaliseMessage(input.message ?? ""),
  ];
  return `sig_${createHash("sha256").update(JSON.stringify(fields)).digest("hex").slice(0, 16)}`;
}
