import type { Check } from "../../core/types.js";
import { capDetail, capMessage, type ParseContext, relPath } from "./common.js";

/**
 * `node --test`'s JUnit report says only "test failed" for a test file that dies outside any test (a missing
 * package, a syntax error, a throw at import): the file's own output is not in it. The TAP reporter, run beside it
 * to stdout, prints that output as top-level `# ` comment lines just before the file's `# Subtest: <path>` line.
 * This reads them back, keyed by the file path relative to the workdir. Pure.
 */
export function nodeTestFileOutput(tap: string, ctx: ParseContext): Map<string, string> {
  const out = new Map<string, string>();
  let pending: string[] = [];
  for (const line of tap.split(/\r?\n/)) {
    const subtest = /^# Subtest: (.+)$/.exec(line);
    if (subtest) {
      const name = subtest[1]!;
      if ((name.includes("/") || name.includes("\\")) && pending.length > 0)
        out.set(relPath(name, ctx.workdir), pending.join("\n"));
      pending = [];
    } else if (line.startsWith("# ")) pending.push(line.slice(2));
    else if (line === "#") pending.push("");
    else pending = [];
  }
  return out;
}

/** The line that says what went wrong: `SyntaxError: …`, `Error [ERR_MODULE_NOT_FOUND]: …`. */
const ERROR_LINE = /^\s*(\w*(?:Error|Exception))\b(?: \[[\w-]+\])?:\s*\S/;

/**
 * Give file-level failures (id = the file, message "test failed") the file's own output as detail, and its error
 * line as message and error type, so a fixer (and the missing-dependency judge) sees why the file failed.
 */
export function withNodeFileOutput(checks: Check[], tap: string, ctx: ParseContext): Check[] {
  const outputs = nodeTestFileOutput(tap, ctx);
  if (outputs.size === 0) return checks;
  return checks.map((c) => {
    const text = c.status === "fail" && c.file === c.id ? outputs.get(c.id) : undefined;
    if (text === undefined) return c;
    const lines = text.split("\n").filter((l) => !/^\s+at /.test(l));
    const errorLine = lines.find((l) => ERROR_LINE.test(l));
    const next: Check = { ...c };
    const detail = capDetail(text);
    if (detail !== undefined) next.detail = detail;
    if (errorLine !== undefined) {
      next.message = capMessage(errorLine.trim());
      next.errorType = ERROR_LINE.exec(errorLine)![1]!;
    }
    return next;
  });
}
