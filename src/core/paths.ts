import path from "node:path";

/** How a platform compares paths: its `path` module, and whether names differ only by case (Windows, macOS). */
export interface PathRules {
  path: path.PlatformPath;
  caseInsensitive: boolean;
}

export const HOST_PATHS: PathRules = {
  path,
  caseInsensitive: process.platform === "win32" || process.platform === "darwin",
};

/**
 * Whether `child` is `parent` or inside it, by the rules of a platform (this one by default; tests pass
 * `path.win32`): drive letters and UNC shares, `\` and `/`, case. A name that merely starts with `..` (`..cache`) is
 * inside.
 */
export function isInside(child: string, parent: string, rules: PathRules = HOST_PATHS): boolean {
  const fold = (s: string) => (rules.caseInsensitive ? s.toLowerCase() : s);
  const p = rules.path;
  const rel = p.relative(fold(p.resolve(parent)), fold(p.resolve(child)));
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${p.sep}`) && !p.isAbsolute(rel));
}
