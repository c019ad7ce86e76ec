import path from "node:path";
import { describe, expect, it } from "vitest";
import { isInside, type PathRules } from "../src/core/paths.js";
import { SacredGuard } from "../src/environment/sacred.js";
import { tempDir } from "./helpers.js";

const win: PathRules = { path: path.win32, caseInsensitive: true };
const posix: PathRules = { path: path.posix, caseInsensitive: false };

describe("isInside, by a platform's rules", () => {
  it("Windows: drive letters, both separators, case, UNC shares", () => {
    expect(isInside("D:\\odibi\\src\\x.py", "D:/odibi", win)).toBe(true);
    expect(isInside("d:/ODIBI/src", "D:\\Odibi", win)).toBe(true);
    expect(isInside("D:\\odibi", "D:\\odibi\\", win)).toBe(true);
    expect(isInside("D:\\odibi2\\x", "D:\\odibi", win)).toBe(false);
    expect(isInside("E:\\odibi\\x", "D:\\odibi", win)).toBe(false);
    expect(isInside("D:\\improve", "D:\\odibi", win)).toBe(false);
    expect(isInside("\\\\server\\share\\repo\\x", "\\\\server\\share\\repo", win)).toBe(true);
    expect(isInside("\\\\server\\share\\other", "\\\\server\\share\\repo", win)).toBe(false);
    expect(isInside("D:\\odibi\\..\\improve", "D:\\odibi", win)).toBe(false);
  });

  it("a name that starts with `..` is inside; `..` itself is not", () => {
    expect(isInside("/repo/..cache/x", "/repo", posix)).toBe(true);
    expect(isInside("D:\\odibi\\..hidden", "D:\\odibi", win)).toBe(true);
    expect(isInside("/repo/..", "/repo", posix)).toBe(false);
    expect(isInside("/", "/repo", posix)).toBe(false);
  });

  it("POSIX: case matters", () => {
    expect(isInside("/home/u/Repo/x", "/home/u/repo", posix)).toBe(false);
    expect(isInside("/home/u/repo/x", "/home/u/repo", posix)).toBe(true);
  });
});

it("the Sacred guard refuses a write under a folder whose name starts with `..`", () => {
  const sacred = tempDir();
  const guard = new SacredGuard(sacred);
  expect(() => guard.assertWritable(path.join(sacred, "..cache", "f"))).toThrow(/inside Sacred/);
  expect(() => guard.assertWritable(path.join(path.dirname(sacred), "elsewhere"))).not.toThrow();
});
