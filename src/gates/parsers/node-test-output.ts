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

/**
 * Where `node --test`'s TAP summary (`# pass 2`, `# fail 3`, … at the end of stdout, written by the runner process,
 * not by the test files' processes) disagrees with its JUnit report. Pure.
 */
export function nodeTestDisagreements(tap: string, checks: readonly Check[]): string[] {
  const last = (name: string): number | undefined => {
    const all = [...tap.matchAll(new RegExp(`^# ${name} (\\d+)\\s*$`, "gm"))];
    return all.length === 0 ? undefined : Number(all.at(-1)![1]);
  };
  const pass = last("pass");
  const fail = last("fail");
  if (pass === undefined || fail === undefined)
    return ["node --test printed no TAP summary (`# pass N`, `# fail N`)"];
  const said = {
    pass,
    fail: fail + (last("cancelled") ?? 0),
    skip: (last("skipped") ?? 0) + (last("todo") ?? 0),
  };
  const count = (s: Check["status"]) => checks.filter((c) => c.status === s).length;
  const report = { pass: count("pass"), fail: count("fail"), skip: count("skip") };
  return said.pass === report.pass && said.fail === report.fail && said.skip === report.skip
    ? []
    : [
        `node --test's summary says ${said.pass} passed, ${said.fail} failed or cancelled, ${said.skip} skipped; ` +
          `its report says ${report.pass}, ${report.fail}, ${report.skip}`,
      ];
}
