/** Path classification shared by the rules (posix, repo-relative paths as git prints them). */

function baseName(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

export function isPythonFile(p: string): boolean {
  return p.endsWith(".py");
}

/** A file that holds tests (Python, JS/TS, Go, Rust) or pytest's shared fixtures/hooks. */
export function isTestFile(p: string): boolean {
  const name = baseName(p);
  if (/^test_.*\.py$/.test(name) || /_test\.py$/.test(name) || name === "conftest.py") return true;
  if (/\.(test|spec)\.[cm]?[jt]sx?$/.test(name) || /(^|\/)__tests__\//.test(p)) return true;
  if (/_test\.go$/.test(name)) return true;
  if (/(^|\/)tests?\//.test(p) && /\.(py|[cm]?[jt]sx?|go|rs)$/.test(name)) return true;
  return false;
}

/** A file the test runner collects by default (pytest `test_*.py`/`*_test.py`, vitest/jest `.test.`/`.spec.`, Go `_test.go`). */
export function isCollectedTestFile(p: string): boolean {
  const name = baseName(p);
  return (
    /^test_.*\.py$/.test(name) ||
    /_test\.py$/.test(name) ||
    /\.(test|spec)\.[cm]?[jt]sx?$/.test(name) ||
    (/(^|\/)__tests__\//.test(p) && /\.[cm]?[jt]sx?$/.test(name)) ||
    /_test\.go$/.test(name)
  );
}

/** Code and configuration, where a forbidden import or a skip means something (docs may mention anything). */
export function isCodeOrConfig(p: string): boolean {
  const name = baseName(p);
  if (/^requirements.*\.(txt|in)$/.test(name)) return true;
  return /\.(py|pyi|[cm]?[jt]sx?|go|rs|ya?ml|toml|cfg|ini|json)$/.test(name);
}

/** Files whose content configures pytest's collection. */
export function pytestConfigKind(
  p: string,
): "pytest.ini" | "pyproject.toml" | "setup.cfg" | "tox.ini" | undefined {
  const name = baseName(p);
  return name === "pytest.ini" || name === "pyproject.toml" || name === "setup.cfg" || name === "tox.ini"
    ? name
    : undefined;
}

/**
 * Glob → RegExp for protected paths: `**` any depth (also none), `*` within a segment, `?` one char, `{a,b}`
 * alternatives. A pattern without `/` matches the file name at any depth (like .gitignore).
 */
export function globToRegExp(glob: string): RegExp {
  const g = glob.replace(/\\/g, "/").replace(/^\.\//, "");
  let re = "";
  let i = 0;
  let inBraces = false;
  while (i < g.length) {
    const c = g[i]!;
    if (c === "*" && g[i + 1] === "*") {
      const slashAfter = g[i + 2] === "/";
      re += slashAfter ? "(?:.*/)?" : ".*";
      i += slashAfter ? 3 : 2;
      continue;
    }
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "{") {
      re += "(?:";
      inBraces = true;
    } else if (c === "}" && inBraces) {
      re += ")";
      inBraces = false;
    } else if (c === "," && inBraces) re += "|";
    else re += c.replace(/[.+^$()|[\]\\]/g, "\\$&");
    i++;
  }
  const anchored = g.includes("/") ? `^${re}$` : `^(?:.*/)?${re}$`;
  return new RegExp(anchored);
}

export function matchesAnyGlob(p: string, globs: readonly string[]): string | undefined {
  return globs.find((g) => globToRegExp(g).test(p));
}
