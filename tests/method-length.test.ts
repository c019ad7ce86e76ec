import { readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { expect, it } from "vitest";

/**
 * Issue 11: the campaign runner and the brain's sandbox loop read as named steps. Every function, method, arrow
 * function and accessor in these files has a body of at most MAX_LINES lines (from its `{` to its `}`).
 */

const MAX_LINES = 60;
const FILES = ["src/campaign/runner.ts", "src/brain/improve-sandbox.ts"];
const ROOT = path.resolve(import.meta.dirname, "..");

function longBodies(file: string, text = readFileSync(path.join(ROOT, file), "utf8")): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const line = (pos: number) => source.getLineAndCharacterOfPosition(pos).line + 1;
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body && ts.isBlock(node.body)) {
      const lines = line(node.body.getEnd()) - line(node.body.getStart(source)) + 1;
      const name = node.name && ts.isIdentifier(node.name) ? node.name.text : "(anonymous)";
      if (lines > MAX_LINES) out.push(`${file}:${line(node.getStart(source))} ${name}: ${lines} lines`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

it(`no function in the runner or the sandbox loop is over ${MAX_LINES} lines`, () => {
  expect(FILES.flatMap((f) => longBodies(f))).toEqual([]);
});

it("finds a long body wherever it is: a method, an arrow function inside one", () => {
  const body = (n: number) => Array.from({ length: n }, (_, i) => `    const v${i} = ${i};`).join("\n");
  const ok = `class A {\n  m() {\n${body(MAX_LINES - 2)}\n  }\n}\n`;
  expect(longBodies("ok.ts", ok)).toEqual([]);
  const long = `class A {\n  m() {\n${body(MAX_LINES - 1)}\n  }\n}\n`;
  expect(longBodies("long.ts", long)).toEqual([`long.ts:2 m: ${MAX_LINES + 1} lines`]);
  const nested = `function f() {\n  const g = () => {\n${body(MAX_LINES)}\n  };\n}\n`;
  expect(longBodies("nested.ts", nested)).toHaveLength(2);
});
