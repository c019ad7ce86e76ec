import { XMLParser } from "fast-xml-parser";
import { z } from "zod";
import type { Check, CheckStatus } from "../../core/types.js";
import { capDetail, capMessage, type ParseContext, parseLocation, relPath } from "./common.js";

/**
 * JUnit XML from pytest (`--junitxml`, `-o junit_family=xunit1` for file/line), `node --test --test-reporter=junit`
 * and vitest `--reporter=junit`. Each dialect names tests differently; the ids are the ones each runner accepts
 * back for a re-run where it can (pytest node ids `path::Class::name`).
 */
export type JUnitDialect = "pytest" | "node" | "vitest";

const Outcome = z.union([
  z.string(),
  z.object({
    "#text": z.string().optional(),
    "@_message": z.string().optional(),
    "@_type": z.string().optional(),
  }),
]);
type Outcome = z.infer<typeof Outcome>;

const TestCase = z.object({
  "@_name": z.string(),
  "@_classname": z.string().optional(),
  "@_file": z.string().optional(),
  "@_line": z.string().optional(),
  "@_time": z.string().optional(),
  failure: z.array(Outcome).optional(),
  error: z.array(Outcome).optional(),
  skipped: z.array(Outcome).optional(),
  "system-out": z.unknown().optional(),
  "system-err": z.unknown().optional(),
});
interface TestCase {
  name: string;
  classname?: string;
  file?: string;
  line?: string;
  time?: string;
  failure?: Outcome[];
  error?: Outcome[];
  skipped?: Outcome[];
}

interface Suite {
  "@_name"?: string;
  testcase?: unknown[];
  testsuite?: Suite[];
}
const SuiteSchema: z.ZodType<Suite> = z.lazy(() =>
  z.object({
    "@_name": z.string().optional(),
    testcase: z.array(z.unknown()).optional(),
    testsuite: z.array(SuiteSchema).optional(),
  }),
);

const Document = z.object({
  testsuites: z.union([z.literal(""), SuiteSchema]).optional(),
  testsuite: z.array(SuiteSchema).optional(),
});

const ARRAYS = new Set(["testsuite", "testcase", "failure", "error", "skipped"]);

export class ReportFormatError extends Error {}

function outcomeParts(o: Outcome): { text: string; message?: string; type?: string } {
  if (typeof o === "string") return { text: o };
  return { text: o["#text"] ?? "", message: o["@_message"], type: o["@_type"] };
}

/** `ZeroDivisionError: division by zero` → ZeroDivisionError; pytest's last line `tests/x.py:11: AssertionError`. */
function pythonErrorType(message: string | undefined, text: string): string | undefined {
  const last = text.trim().split("\n").at(-1) ?? "";
  const fromLast = /:\d+: (\w+(?:\.\w+)*)\s*$/.exec(last)?.[1];
  if (fromLast) return fromLast;
  const fromE = /^E\s+(\w+(?:\.\w+)*(?:Error|Exception|Exit|Interrupt)):/m.exec(text)?.[1];
  if (fromE) return fromE;
  return message ? /^(\w+(?:\.\w+)*(?:Error|Exception)):/.exec(message)?.[1] : undefined;
}

/** Installed code (site-packages, a venv, the standard library) and compiled extensions (`.pyx`). */
const INSTALLED =
  /(^|[\\/])(site-packages|dist-packages|\.venv|venv|lib[\\/]python\d[^\\/]*)([\\/]|$)|\.(pyx|pxi|pxd)$/;
const LOCATION = /^((?:[A-Za-z]:)?[^\s:][^:\n]*):(\d+):/;
/** pytest's separators: between frames, and between chained exceptions. */
const SECTION_BREAK =
  /^(?:(?:_ )+_?\s*|The above exception was the direct cause of the following exception:|During handling of the above exception, another exception occurred:)$/;

/**
 * A pytest long traceback with the code of installed frames left out: a section whose frames are all outside the
 * repository keeps only its location lines and its `E` lines. Library internals (a pandas function with its
 * docstring) otherwise fill the capped detail and push the repository's frames out.
 */
export function compactPytestTraceback(text: string, workdir: string): string {
  const out: string[] = [];
  let section: string[] = [];
  const flush = () => {
    const locations = section.map((l) => LOCATION.exec(l)?.[1]).filter((f): f is string => f !== undefined);
    const installed =
      locations.length > 0 &&
      locations.every((f) => {
        const rel = relPath(f, workdir);
        return INSTALLED.test(rel) || rel.startsWith("/") || /^[A-Za-z]:/.test(rel);
      });
    out.push(...(installed ? section.filter((l) => LOCATION.test(l) || /^E(\s|$)/.test(l)) : section));
    section = [];
  };
  for (const l of text.split("\n")) {
    if (SECTION_BREAK.test(l)) {
      flush();
      out.push(l);
    } else section.push(l);
  }
  flush();
  return out.join("\n");
}

function pytestId(tc: TestCase, workdir: string): { id: string; file?: string } {
  const classname = tc.classname ?? "";
  const file = tc.file ? relPath(tc.file, workdir) : undefined;
  if (classname === "") {
    // A collection error: pytest names the module (`tests.test_broken`).
    const f = file ?? `${tc.name.replace(/\./g, "/")}.py`;
    return { id: f, file: f };
  }
  if (file) {
    const moduleDotted = file.replace(/\.py$/, "").replace(/\//g, ".");
    const classes = classname.startsWith(moduleDotted) ? classname.slice(moduleDotted.length + 1) : "";
    const parts = [file, ...(classes ? classes.split(".") : []), tc.name];
    return { id: parts.join("::"), file };
  }
  // Without a file attribute (xunit2): modules are lower case, classes start with a capital by convention.
  const segs = classname.split(".");
  const firstClass = segs.findIndex((s) => /^[A-Z]/.test(s));
  const mod = firstClass === -1 ? segs : segs.slice(0, firstClass);
  const f = `${mod.join("/")}.py`;
  return { id: [f, ...(firstClass === -1 ? [] : segs.slice(firstClass)), tc.name].join("::"), file: f };
}

function caseToCheck(tc: TestCase, suitePath: string[], dialect: JUnitDialect, ctx: ParseContext): Check {
  const bad = tc.error?.[0] ?? tc.failure?.[0];
  const skipped = tc.skipped?.[0];
  const status: CheckStatus = bad !== undefined ? "fail" : skipped !== undefined ? "skip" : "pass";
  const durationMs = tc.time === undefined ? undefined : Math.round(Number(tc.time) * 1000);
  let id: string;
  let file: string | undefined;
  let line = tc.line === undefined ? undefined : Number(tc.line);
  if (dialect === "pytest") {
    ({ id, file } = pytestId(tc, ctx.workdir));
    // xunit1 line numbers are 0-based.
    if (line !== undefined) line += 1;
  } else if (dialect === "vitest") {
    file = tc.classname ? relPath(tc.classname, ctx.workdir) : undefined;
    id = file ? `${file}::${tc.name}` : tc.name;
  } else {
    // node --test: a test file that fails outside any test is reported under its absolute path.
    const isFile = tc.name.includes("/") || tc.name.includes("\\");
    const name = isFile ? relPath(tc.name, ctx.workdir) : tc.name;
    if (isFile) file = name;
    id = [...suitePath, name].join(" > ");
  }
  const check: Check = { gate: ctx.gate, id, status, file, line, durationMs };
  if (bad !== undefined) {
    const { text, message, type } = outcomeParts(bad);
    const kind = tc.error?.length ? "error" : "failure";
    let errorType: string | undefined;
    if (dialect === "pytest")
      errorType = pythonErrorType(message, text) ?? (kind === "error" ? "Error" : "Failure");
    else if (dialect === "node") errorType = /cause: (\w+)/.exec(text)?.[1] ?? type;
    else errorType = type;
    check.errorType = errorType;
    // pytest's collection errors say only "collection failure"; the `E   ` line says what went wrong.
    const eLine =
      dialect === "pytest"
        ? text
            .split("\n")
            .filter((l) => l.startsWith("E   "))
            .at(-1)
            ?.slice(4)
            .trim()
        : undefined;
    const generic = !message || message === "collection failure";
    check.message = capMessage(generic ? (eLine ?? (message || text.trim().split("\n")[0])) : message);
    check.detail = capDetail(dialect === "pytest" ? compactPytestTraceback(text, ctx.workdir) : text);
    if (dialect !== "pytest" && check.line === undefined) {
      // The first location in the test's own file: vitest `❯ a.test.js:4:31`, node `file:///…/x.test.js:11:12`.
      for (const l of text.split("\n")) {
        if (!/file:\/\/|❯|\bat\b/.test(l)) continue;
        const loc = parseLocation(
          l.replace(/^.*?(file:\/\/|❯\s*|\bat\s+(?:.*\()?)/, "").replace(/^file:\/\//, ""),
        );
        if (!loc) continue;
        // Node prints file URLs: percent-encoded.
        const f = relPath(l.includes("file://") ? decodeURIComponent(loc.file) : loc.file, ctx.workdir);
        if (f.startsWith("node:") || f.startsWith("/") || f.includes("node_modules") || !/\.\w+$/.test(f))
          continue;
        check.file ??= f;
        check.line = loc.line;
        check.column = loc.column;
        break;
      }
    }
  } else if (skipped !== undefined) {
    const { message, text } = outcomeParts(skipped);
    check.message = capMessage(message || text || undefined);
  }
  return check;
}

/** Parse a JUnit XML report into checks. Throws ReportFormatError on a document that is not JUnit. */
export function parseJUnitXml(xml: string, dialect: JUnitDialect, ctx: ParseContext): Check[] {
  const parser = new XMLParser({
    ignoreAttributes: false,
    // Prefixed: node puts a `failure` attribute on <testcase> next to its <failure> element.
    attributeNamePrefix: "@_",
    textNodeName: "#text",
    parseTagValue: false,
    parseAttributeValue: false,
    htmlEntities: true,
    isArray: (name) => ARRAYS.has(name),
  });
  let raw: unknown;
  try {
    raw = parser.parse(xml, true);
  } catch (e) {
    throw new ReportFormatError(`malformed JUnit XML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const doc = Document.safeParse(raw);
  if (!doc.success || (doc.data.testsuites === undefined && doc.data.testsuite === undefined))
    throw new ReportFormatError("not a JUnit report: no <testsuites> or <testsuite> element");
  const checks: Check[] = [];
  const walk = (suite: Suite, suitePath: string[]) => {
    for (const raw of suite.testcase ?? []) {
      const tc = TestCase.safeParse(raw);
      if (!tc.success) throw new ReportFormatError(`malformed <testcase>: ${z.prettifyError(tc.error)}`);
      const d = tc.data;
      const plain: TestCase = {
        name: d["@_name"],
        classname: d["@_classname"],
        file: d["@_file"],
        line: d["@_line"],
        time: d["@_time"],
        failure: d.failure,
        error: d.error,
        skipped: d.skipped,
      };
      checks.push(caseToCheck(plain, suitePath, dialect, ctx));
    }
    for (const s of suite.testsuite ?? [])
      walk(s, dialect === "node" && s["@_name"] ? [...suitePath, s["@_name"]] : suitePath);
  };
  const top = doc.data.testsuites;
  if (top && typeof top === "object") walk(top, []);
  for (const s of doc.data.testsuite ?? []) walk({ testsuite: [s] }, []);
  return checks;
}
