import { stripVTControlCharacters } from "node:util";
import { splitCommandLine } from "../../exec/run-process.js";

/**
 * A configured command line with its placeholder (`{file}`, `{config}`) replaced per word, so a path with spaces
 * stays one argument. Without the placeholder the path is appended.
 */
export function expandCommand(
  line: string,
  placeholder: string,
  value: string,
): { file: string; args: string[] } {
  const words = splitCommandLine(line);
  const token = `{${placeholder}}`;
  const used = words.some((w) => w.includes(token));
  const expanded = words.map((w) => w.split(token).join(value));
  if (!used) expanded.push(value);
  const [file, ...args] = expanded;
  if (!file) throw new Error(`empty command: ${line}`);
  return { file, args };
}

/** Cap a log excerpt for a check's detail (the tail is what explains a crash). */
export function tail(text: string, max = 4000): string {
  const t = text.trimEnd();
  return t.length <= max ? t : `…${t.slice(-max)}`;
}

/** A rich log line of a quiet level: `[14:10:31] INFO     …`, or the same with the time column left blank. */
const QUIET_LOG_LINE = /^(?:\[\d\d:\d\d:\d\d\])?\s+(?:DEBUG|INFO)\s{2,}/;
/** rich wraps a long message onto lines indented to its message column. */
const WRAPPED_LINE = /^\s{16,}\S/;
/** A banner's rule (`=====…`, `-----…`). */
const RULE_LINE = /^\s*[=-]{20,}\s*$/;

/**
 * What explains an `odibi run` that failed, from its output: colour codes, INFO/DEBUG log lines (lineage, catalog,
 * timings), banner rules and the overhead audit removed, then the tail. What is left is odibi's failure summary,
 * warnings, errors and Python tracebacks.
 */
export function runLogExcerpt(output: string, max = 4000): string {
  const kept: string[] = [];
  let quiet = false;
  let audit = false;
  for (const raw of stripVTControlCharacters(output).replace(/\r\n/g, "\n").split("\n")) {
    const line = raw.trimEnd();
    if (QUIET_LOG_LINE.test(line) || (quiet && WRAPPED_LINE.test(line))) {
      quiet = true;
      continue;
    }
    quiet = false;
    if (RULE_LINE.test(line)) continue;
    if (/OVERHEAD AUDIT/.test(line)) audit = true;
    if (audit) {
      audit = line !== "";
      continue;
    }
    kept.push(line);
  }
  return tail(kept.join("\n").replace(/\n{3,}/g, "\n\n"), max);
}
