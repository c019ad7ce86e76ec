import { isCommentLine } from "./violation.js";

/** A test function found in a file, with the number of real assertions in its body. */
export interface TestFunction {
  /** Bare name (`test_sum`, `adds numbers`, `TestSum`). */
  name: string;
  /** Name qualified by its Python class (`TestMath::test_sum`), unique within the file. */
  qualified: string;
  line: number;
  asserts: number;
}

type Lang = "python" | "js" | "go" | "other";

export function languageOf(path: string): Lang {
  if (path.endsWith(".py")) return "python";
  if (/\.[cm]?[jt]sx?$/.test(path)) return "js";
  if (path.endsWith(".go")) return "go";
  return "other";
}

/**
 * Assertions that cannot fail: `assert True`, `assert 1`, `assert "text"`, `self.assertTrue(True)`,
 * `expect(true).toBe(true)`. They do not count as assertions, and adding one is itself a violation.
 */
export function isTrivialAssertion(text: string): boolean {
  return (
    /^\s*assert\s+(?:\(?\s*(?:True|1|not\s+(?:False|None|0))\s*\)?|(?:[rbuf]?["'][^"']+["']))\s*(?:,.*)?(?:#.*)?$/.test(
      text,
    ) ||
    /\bself\.assert(?:True|Equal)\(\s*(?:True|1)\s*\)/.test(text) ||
    /\bself\.assertFalse\(\s*(?:False|0|None)\s*\)/.test(text) ||
    /\bexpect\(\s*(true|1)\s*\)\.(?:toBe|toEqual|toBeTruthy)\(\s*(?:true|1)?\s*\)/.test(text) ||
    /\bassert(?:\.ok)?\(\s*true\s*\)/.test(text)
  );
}

/** Does this line make a real assertion (one per line at most)? */
export function isAssertionLine(text: string, lang: Lang): boolean {
  if (isCommentLine(text) || isTrivialAssertion(text)) return false;
  switch (lang) {
    case "python":
      return (
        /^\s*assert\b/.test(text) ||
        /\b(?:self\.)?assert\w*\s*\(/.test(text) ||
        /\bpytest\.(?:raises|warns|approx)\s*\(/.test(text) ||
        /\b(?:np|numpy)\.testing\.assert/.test(text)
      );
    case "js":
      return /\bexpect\s*\(/.test(text) || /\bassert\b/.test(text) || /\.rejects\b|\.toThrow/.test(text);
    case "go":
      return (
        /\bt\.(?:Error|Errorf|Fatal|Fatalf|Fail|FailNow)\b/.test(text) ||
        /\b(?:assert|require)\.\w+\(/.test(text)
      );
    default:
      return false;
  }
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

function pythonTests(lines: string[]): TestFunction[] {
  const out: TestFunction[] = [];
  const classes: { name: string; indent: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    if (text.trim() === "" || isCommentLine(text)) continue;
    const ind = indentOf(text);
    while (classes.length > 0 && classes[classes.length - 1]!.indent >= ind) classes.pop();
    const cls = /^\s*class\s+(\w+)/.exec(text);
    if (cls) {
      classes.push({ name: cls[1]!, indent: ind });
      continue;
    }
    const def = /^\s*(?:async\s+)?def\s+(test\w*)\s*\(/.exec(text);
    if (!def) continue;
    let asserts = 0;
    let j = i + 1;
    for (; j < lines.length; j++) {
      const body = lines[j]!;
      if (body.trim() === "" || isCommentLine(body)) continue;
      if (indentOf(body) <= ind) break;
      if (isAssertionLine(body, "python")) asserts++;
    }
    const name = def[1]!;
    const qualified = [...classes.map((c) => c.name), name].join("::");
    out.push({ name, qualified, line: i + 1, asserts });
  }
  return out;
}

/** JS/TS and Go: a test's body runs until the next test starts (good enough to count assertions). */
function delimitedTests(lines: string[], start: RegExp, lang: Lang): TestFunction[] {
  const starts: { name: string; line: number }[] = [];
  lines.forEach((text, i) => {
    const m = start.exec(text);
    if (m) starts.push({ name: (m[2] ?? m[1])!, line: i + 1 });
  });
  return starts.map((s, k) => {
    const end = starts[k + 1]?.line ?? lines.length + 1;
    let asserts = 0;
    for (let i = s.line; i < end - 1; i++) if (isAssertionLine(lines[i]!, lang)) asserts++;
    return { name: s.name, qualified: s.name, line: s.line, asserts };
  });
}

/** The test functions of a file's content, by language. */
export function extractTests(path: string, content: string): TestFunction[] {
  const lines = content.split(/\r?\n/);
  switch (languageOf(path)) {
    case "python":
      return pythonTests(lines);
    case "js":
      return delimitedTests(lines, /^\s*(?:x?it|x?test)(?:\.\w+)?\s*\(\s*(["'`])(.*?)\1/, "js");
    case "go":
      return delimitedTests(lines, /^func\s+(Test\w+)\s*\(/, "go");
    default:
      return [];
  }
}

/** Test names defined on lines (added or removed lines of a diff). */
export function testNamesIn(path: string, lines: readonly { text: string }[]): string[] {
  return extractTests(path, lines.map((l) => l.text).join("\n")).map((t) => t.name);
}
