import { changedParts, isMixedOracleFile, oracleGlobOf, oracleGlobs, rustTestRanges } from "../oracle.js";
import { isCodeOrConfig, isPythonFile, matchesAnyGlob } from "../paths.js";
import type { ChangedFile, DiffLine, PolicyViolation, RuleInput } from "../types.js";
import { isCommentLine, minus, plus, violation } from "../violation.js";
import { DEFAULT_PROTECTED_PATHS } from "./protected-paths.js";
import { isNewTestFile } from "./tests-only.js";

/**
 * The frozen oracle's rules: a fix task changes the code under test, never what judges it (`oracle-modified`),
 * never silences a checker (`suppression-added`), never changes what the tests import (`import-path-changed`).
 */

/** Both sides of a changed file, or undefined for a side that should exist but was not loaded (too large). */
function sides(f: ChangedFile, input: RuleInput): { base?: string; current?: string; loaded: boolean } {
  const base = f.status === "added" ? undefined : input.readers?.base(f.oldPath);
  const current = f.status === "deleted" ? undefined : input.readers?.current(f.path);
  const loaded =
    (f.status === "added" || base !== undefined) && (f.status === "deleted" || current !== undefined);
  return { base, current, loaded };
}

/** A test file by its name (Python, JS/TS, Go): what a new-feature candidate may add beside the code. */
export function isTestFileName(p: string): boolean {
  const base = p.split("/").at(-1) ?? "";
  return /^test_.+\.py$|^.+_test\.(?:py|go)$|^.+\.(?:test|spec)\.[cm]?[jt]sx?$/.test(base);
}

const changedLines = (f: ChangedFile) => [...f.removed.map(minus), ...f.added.map(plus)];

/** Without both sides, a mixed file's change is judged by the words on its changed lines. */
const ORACLE_WORDS =
  /\b(?:pytest|ruff|mypy|pylint|flake8|coverage|pyright|isort|tox|lints?|clippy|dev-dependencies|test|bench|jest|vitest|mocha|ava|c8|nyc|eslint\w*|biome)\b/i;
const IMPORT_WORDS =
  /\b(?:package[-_]dir|packages|py_modules|patch|replace|imports|exports|main|module|type|workspaces)\b/;

function rustTestLines(f: ChangedFile, input: RuleInput): DiffLine[] {
  const { base, current } = sides(f, input);
  const inRanges = (lines: DiffLine[], content: string | undefined) => {
    if (content === undefined)
      return lines.filter((l) => /#\s*\[\s*(?:cfg\s*\(\s*test|(?:\w+::)*test\s*\])/.test(l.text));
    const ranges = rustTestRanges(content);
    return lines.filter((l) => ranges.some(([a, b]) => l.line >= a && l.line <= b));
  };
  return [...inRanges(f.removed, base), ...inRanges(f.added, current)];
}

/**
 * A diff touching the oracle: an oracle path (added, changed, deleted or renamed, either name), the oracle parts of
 * a mixed file (pyproject `[tool.pytest…]`/`[tool.ruff…]`…, setup.cfg checker sections, Cargo `[lints]`/`[[test]]`…,
 * package.json `scripts.test`/`jest`/`vitest`…), or a Rust test item inside a source file. Paths the protected-path
 * rule already names (CI, lock files, golden) are left to it, and so is a test-adding task's new test file.
 */
export function oracleModifiedRule(input: RuleInput): PolicyViolation[] {
  const globs = input.oracle ?? oracleGlobs();
  const protectedGlobs = [...DEFAULT_PROTECTED_PATHS, ...input.settings.protected_paths];
  const out: PolicyViolation[] = [];
  for (const f of input.files) {
    const names = [...new Set([f.oldPath, f.path])];
    if (names.some((p) => matchesAnyGlob(p, protectedGlobs))) continue;
    // A test-adding task's new test file is its change, not a change to the oracle (tests-only judges it).
    if (input.addTestsOnly && isNewTestFile(f)) continue;
    if (input.newTestsAllowed && f.status === "added" && isTestFileName(f.path)) continue;
    const hit = names.map((p) => ({ p, glob: oracleGlobOf(p, globs) })).find((h) => h.glob);
    if (hit) {
      out.push(
        violation(
          "oracle-modified",
          hit.p,
          0,
          `oracle file ${f.status} (matches ${hit.glob}): tests, their configuration and checker configuration stay Master's`,
          changedLines(f),
        ),
      );
      continue;
    }
    if (f.binary) continue;
    if (isMixedOracleFile(f.path)) {
      const { base, current, loaded } = sides(f, input);
      const parts = loaded
        ? changedParts(f.path, "oracle", base, current)!
        : f.added.concat(f.removed).some((l) => ORACLE_WORDS.test(l.text))
          ? ["(lines mentioning test or checker settings)"]
          : [];
      if (parts.length)
        out.push(
          violation(
            "oracle-modified",
            f.path,
            f.added[0]?.line ?? f.removed[0]?.line ?? 0,
            `test or checker configuration changed: ${parts.join(", ")}`,
            changedLines(f),
          ),
        );
      continue;
    }
    if (f.path.endsWith(".rs")) {
      const lines = rustTestLines(f, input);
      if (lines.length)
        out.push(
          violation(
            "oracle-modified",
            f.path,
            lines[0]!.line,
            "Rust test item (#[cfg(test)] / #[test]) changed",
            lines.map((l) => (f.added.includes(l) ? plus(l) : minus(l))),
          ),
        );
    }
  }
  return out;
}

/** Checker suppressions, by the checker they silence. Matched anywhere on a line: a string can be a pragma too. */
const SUPPRESSIONS: Array<[RegExp, string]> = [
  [/#.*\bnoqa\b/i, "noqa"],
  [/\btype:\s*ignore\b/, "type: ignore"],
  [/\bpyright:\s*ignore\b/, "pyright: ignore"],
  [/\bmypy:\s*(?:ignore-errors|disable-error-code)\b/, "mypy: ignore-errors"],
  [/\bpragma:\s*no\s*(?:cover|branch)\b/i, "pragma: no cover"],
  [/\bpylint:\s*disable\b/i, "pylint: disable"],
  [/\bisort:\s*skip\b/, "isort: skip"],
  [/\beslint-disable/, "eslint-disable"],
  [/@ts-(?:ignore|expect-error|nocheck)\b/, "@ts-ignore"],
  [/\bbiome-ignore/, "biome-ignore"],
  [/\bdeno-lint-ignore/, "deno-lint-ignore"],
  [/\b(?:c8|v8|istanbul)\s+ignore\b/, "coverage ignore"],
  [/\/\/\s*nolint\b/, "nolint"],
  [/#!?\s*\[\s*(?:allow|expect)\s*\(/, "#[allow(…)]"],
];

/**
 * A suppression added by the candidate: `noqa` in every form (`# noqa`, `# noqa: E501`, `# ruff: noqa`,
 * `# flake8: noqa`), `type: ignore`, `pragma: no cover`, `pylint: disable`, `eslint-disable*`, `@ts-ignore` /
 * `@ts-expect-error`, `biome-ignore`, `//nolint`, `#[allow(…)]` / `#![allow(…)]`… Only added lines count, not moved
 * ones: an added line whose text the diff also removes (anywhere) is a move.
 */
export function suppressionAddedRule({ files }: RuleInput): PolicyViolation[] {
  const removed = new Map<string, number>();
  for (const f of files)
    for (const l of f.removed) removed.set(l.text.trim(), (removed.get(l.text.trim()) ?? 0) + 1);
  const out: PolicyViolation[] = [];
  for (const f of files) {
    if (f.binary || f.status === "deleted" || !isCodeOrConfig(f.path)) continue;
    for (const l of f.added) {
      const found = SUPPRESSIONS.find(([re]) => re.test(l.text));
      if (!found) continue;
      const moved = removed.get(l.text.trim()) ?? 0;
      if (moved > 0) {
        removed.set(l.text.trim(), moved - 1);
        continue;
      }
      out.push(
        violation("suppression-added", f.path, l.line, `checker suppression added (${found[1]})`, [plus(l)]),
      );
    }
  }
  return out;
}

const IMPORT_ENV =
  /\b(?:PYTHONPATH|PYTHONHOME|PYTHONSTARTUP|PYTHONUSERBASE|PYTHONSAFEPATH|NODE_PATH|NODE_OPTIONS|GOFLAGS|GOPATH|RUSTFLAGS)\b/;
const PYTHON_IMPORT_HOOKS =
  /\bsys\s*\.\s*(?:path|meta_path|path_hooks|path_importer_cache)\b|\bsys\s*\.\s*modules\s*(?:\[[^\]]*\]\s*=(?!=)|\.\s*(?:update|setdefault|__setitem__)\s*\()|\bsite\s*\.\s*addsitedir\b|\b__import__\s*=(?!=)|\bbuiltins\s*\.\s*__import__\b/;

function dirName(p: string): string {
  const i = p.lastIndexOf("/");
  return i === -1 ? "" : p.slice(0, i);
}
function join(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

/**
 * Where Python looks for top-level names when the tests run: the repository root, `src/`, and (pytest's default
 * `prepend` import mode) the first folder above each test file that is not a package.
 */
function importRoots(baseFiles: readonly string[]): Set<string> {
  const files = new Set(baseFiles);
  const roots = new Set(["", "src"]);
  for (const p of baseFiles) {
    const name = p.slice(p.lastIndexOf("/") + 1);
    if (!/^(?:test_.*|.*_test|conftest)\.py$/.test(name)) continue;
    let d = dirName(p);
    while (d && files.has(join(d, "__init__.py"))) d = dirName(d);
    roots.add(d);
  }
  return roots;
}

/** The module or package an added Python file makes: its folder and its importable name. */
function moduleOf(p: string): { parent: string; name: string; isPackage: boolean } | undefined {
  if (!/\.pyi?$/.test(p)) return undefined;
  const name = p.slice(p.lastIndexOf("/") + 1);
  if (name === "__init__.py" || name === "__init__.pyi") {
    const dir = dirName(p);
    return { parent: dirName(dir), name: dir.slice(dir.lastIndexOf("/") + 1), isPackage: true };
  }
  return { parent: dirName(p), name: name.replace(/\.pyi?$/, ""), isPackage: false };
}

/**
 * What can change what the tests import: files run at interpreter start-up (`*.pth`, `sitecustomize.py`,
 * `usercustomize.py`); import-path settings (`PYTHONPATH`, `NODE_PATH`… anywhere; the import parts of mixed files:
 * setuptools `package-dir`, package.json `imports`/`exports`/`main`, Cargo `[patch]`; go.mod `replace`); `sys.path`,
 * `sys.modules`, import hooks or `__import__` touched in Python code; files added under `node_modules/` or `vendor/`;
 * and a new Python module or package that shadows one (`calc.py` beside a `calc/` package or the reverse), or any
 * new top-level name where Python looks for them (root, `src/`, the folders of the tests): it could be `pytest.py`,
 * `mypkg/` over `src/mypkg/`, or a stdlib name. A fix goes into existing modules; a new top-level one is rejected.
 */
export function importPathChangedRule(input: RuleInput): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  const globs = input.oracle ?? oracleGlobs();
  const baseFiles = input.readers?.baseFiles;
  const baseSet = new Set(baseFiles ?? []);
  const baseDirs = new Set(
    [...baseSet].flatMap((p) =>
      p
        .split("/")
        .slice(0, -1)
        .map((_, i, a) => a.slice(0, i + 1).join("/")),
    ),
  );
  const roots = importRoots(baseFiles ?? []);
  const flagged = new Set<string>();
  const add = (f: string, line: number, message: string, lines: string[]) => {
    if (flagged.has(`${f}:${message}`)) return;
    flagged.add(`${f}:${message}`);
    out.push(violation("import-path-changed", f, line, message, lines));
  };
  for (const f of input.files) {
    const name = f.path.slice(f.path.lastIndexOf("/") + 1);
    if (f.status !== "deleted" && (/^(?:site|user)customize\.py$/.test(name) || name.endsWith(".pth")))
      add(f.path, 0, `${name} runs at interpreter start-up, before any test`, []);
    if (f.status !== "deleted" && /(?:^|\/)(?:node_modules|vendor)\//.test(f.path))
      add(f.path, 0, "file added under node_modules/ or vendor/: it shadows an installed package", []);
    if (f.binary) continue;
    if (isMixedOracleFile(f.path)) {
      const { base, current, loaded } = sides(f, input);
      const parts = loaded
        ? changedParts(f.path, "importPath", base, current)!
        : f.added.concat(f.removed).some((l) => IMPORT_WORDS.test(l.text))
          ? ["(lines mentioning package layout)"]
          : [];
      if (parts.length)
        add(f.path, f.added[0]?.line ?? 0, `import layout changed: ${parts.join(", ")}`, changedLines(f));
    }
    for (const l of f.added) {
      if (isCommentLine(l.text)) continue;
      // Any file but prose: `.env`, `.envrc` and Makefiles set the environment too.
      if (!/\.(?:md|rst|txt|adoc)$/i.test(f.path) && IMPORT_ENV.test(l.text))
        add(f.path, l.line, "import-path environment variable set", [plus(l)]);
      else if (isPythonFile(f.path) && PYTHON_IMPORT_HOOKS.test(l.text))
        add(f.path, l.line, "sys.path, sys.modules or the import machinery changed", [plus(l)]);
      else if (name === "go.mod" && /^\s*replace\b|=>/.test(l.text))
        add(f.path, l.line, "go.mod replace directive added", [plus(l)]);
    }
    // New files in the oracle (a new test module, conftest.py) are oracle-modified's to reject.
    const mod =
      (f.status === "added" || f.status === "renamed") && !oracleGlobOf(f.path, globs)
        ? moduleOf(f.path)
        : undefined;
    if (!mod) continue;
    // A new folder of Python files right under an import root is a new (namespace) package there.
    for (const root of roots) {
      const rest =
        root === "" ? f.path : f.path.startsWith(`${root}/`) ? f.path.slice(root.length + 1) : undefined;
      const top = rest?.split("/");
      if (!top || top.length < 2 || top[0] === mod.name) continue;
      if (!baseDirs.has(join(root, top[0]!)) && !baseSet.has(join(root, `${top[0]}.py`)))
        add(
          f.path,
          0,
          `new top-level Python package ${top[0]} in ${root || "the repository root"}: it can shadow what the tests import`,
          [],
        );
    }
    const asModule = [join(mod.parent, `${mod.name}.py`), join(mod.parent, `${mod.name}.pyi`)];
    const asPackage = join(mod.parent, mod.name);
    const shadows = mod.isPackage ? asModule.some((m) => baseSet.has(m)) : baseDirs.has(asPackage);
    const existedHere = mod.isPackage ? baseDirs.has(asPackage) : asModule.some((m) => baseSet.has(m));
    if (shadows)
      add(
        f.path,
        0,
        `new ${mod.isPackage ? "package" : "module"} ${mod.name} beside an existing ${mod.isPackage ? "module" : "package"} of that name: one shadows the other`,
        [],
      );
    else if (roots.has(mod.parent) && !existedHere)
      add(
        f.path,
        0,
        `new top-level Python ${mod.isPackage ? "package" : "module"} ${mod.name} in ${mod.parent || "the repository root"}: it can shadow what the tests import`,
        [],
      );
  }
  return out;
}
