import path from "node:path";
import { makeGitRepo, tempDir } from "./helpers.js";

/** biome from this package's own node_modules (the fixture has none). */
export const BIOME = path.resolve(import.meta.dirname, "..", "node_modules", ".bin", "biome");

/**
 * A node repository: `node --test` (junit reporter) with a pass, an assertion failure inside a suite, a thrown
 * error, a skip and a test file that fails to import (a crash outside any test); biome lint finds an unused import
 * (warning) and a debugger statement (error).
 */
export const NODE_FIXTURE: Record<string, string> = {
  "package.json": `{ "name": "fixture", "version": "0.0.1", "type": "module", "private": true }\n`,
  "biome.json": `{ "formatter": { "enabled": false } }\n`,
  "src/math.js": `export function add(a, b) {
  return a + b;
}
export function mul(a, b) {
  return a + b;
}
`,
  "src/lint.js": `import { unused } from "node:fs";
export function cmp(a) {
  if (a === null) {
    debugger;
  }
  return a;
}
`,
  "test/math.test.js": `import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import { add, mul } from "../src/math.js";

test("add", () => {
  assert.equal(add(1, 2), 3);
});

describe("mul", () => {
  it("multiplies", () => {
    assert.equal(mul(2, 3), 6);
  });
  it("skips", { skip: "later" }, () => {});
  it("throws", () => {
    throw new TypeError("boom");
  });
});
`,
  "test/broken.test.js": `import { nothing } from "../src/nope.js";
nothing();
`,
};

export const NODE_EXPECTED_TESTS: Record<string, "pass" | "fail" | "skip"> = {
  add: "pass",
  "mul > multiplies": "fail",
  "mul > skips": "skip",
  "mul > throws": "fail",
  "test/broken.test.js": "fail",
};

export async function makeNodeFixture(): Promise<string> {
  return makeGitRepo(path.join(tempDir("oi gates node "), "repo"), NODE_FIXTURE);
}
