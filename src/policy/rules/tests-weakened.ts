import { isCollectedTestFile, isPythonFile, isTestFile, pytestConfigKind } from "../paths.js";
import {
  extractTests,
  isAssertionLine,
  isTrivialAssertion,
  languageOf,
  testNamesIn,
} from "../test-functions.js";
import type { DiffLine, PolicyViolation, RuleInput } from "../types.js";
import { isCommentLine, minus, plus, violation } from "../violation.js";

/**
 * Test names the candidate newly defines anywhere (new content minus base content per file, or added lines): a test
 * moved to another file is not a deleted one.
 */
function newlyDefinedTests({ files, readers }: RuleInput): Set<string> {
  const names = new Set<string>();
  for (const f of files) {
    if (f.status === "deleted" || !isCollectedTestFile(f.path)) continue;
    const content = readers?.current(f.path);
    const base = readers?.base(f.oldPath);
    const before = new Set(base !== undefined ? extractTests(f.oldPath, base).map((t) => t.name) : []);
    const found =
      content !== undefined ? extractTests(f.path, content).map((t) => t.name) : testNamesIn(f.path, f.added);
    for (const n of found) if (!before.has(n)) names.add(n);
  }
  return names;
}

/** A test file deleted or renamed out of test collection; a test function removed (and not moved elsewhere). */
export function testDeletedRule(input: RuleInput): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  const still = newlyDefinedTests(input);
  for (const f of input.files) {
    if (!isTestFile(f.oldPath)) continue;
    if (
      f.status === "deleted" ||
      (f.status === "renamed" && isCollectedTestFile(f.oldPath) && !isCollectedTestFile(f.path))
    ) {
      const base = input.readers?.base(f.oldPath);
      const tests =
        base !== undefined
          ? extractTests(f.oldPath, base).map((t) => t.name)
          : testNamesIn(f.oldPath, f.removed);
      const lost = tests.filter((n) => !still.has(n));
      if (tests.length === 0 || lost.length > 0)
        out.push(
          violation(
            "test-deleted",
            f.oldPath,
            0,
            f.status === "deleted"
              ? `test file deleted${lost.length ? ` (tests: ${lost.slice(0, 5).join(", ")})` : ""}`
              : `test file renamed out of collection: ${f.oldPath} → ${f.path}`,
          ),
        );
      continue;
    }
    const base = input.readers?.base(f.oldPath);
    const current = input.readers?.current(f.path);
    const before =
      base !== undefined
        ? extractTests(f.oldPath, base)
        : testNamesIn(f.oldPath, f.removed).map((name) => ({ name }));
    const afterNames = new Set(
      current !== undefined ? extractTests(f.path, current).map((t) => t.name) : testNamesIn(f.path, f.added),
    );
    for (const t of before) {
      if (afterNames.has(t.name) || still.has(t.name)) continue;
      const at = f.removed.find((l) => new RegExp(`\\b${escapeRe(t.name)}\\b`).test(l.text));
      out.push(
        violation("test-deleted", f.path, at?.line ?? 0, `test ${t.name} removed`, at ? [minus(at)] : []),
      );
    }
  }
  return out;
}

const SKIP_PATTERNS: RegExp[] = [
  /@pytest\.mark\.(?:skip|skipif|xfail)\b/,
  /\bpytest\.(?:skip|xfail|importorskip)\s*\(/,
  /\bpytestmark\s*=.*\b(?:skip|skipif|xfail)\b/,
  /\.add_marker\(.*\b(?:skip|skipif|xfail)\b/,
  /@unittest\.(?:skip|skipIf|skipUnless|expectedFailure)\b/,
  /@(?:skip|skipIf|skipUnless|expectedFailure)\b/,
  /\bself\.skipTest\s*\(/,
  /\braise\s+(?:unittest\.)?SkipTest\b/,
  /^\s*__test__\s*=\s*False\b/,
  /\b(?:it|test|describe|suite|context)\.(?:skip|todo|fails)\b/,
  /\b(?:xit|xdescribe|xtest|xcontext)\s*\(/,
  /\bt\.Skip(?:Now|f)?\s*\(/,
  /#\[ignore\]/,
];

/** A skip / xfail / `.skip(` / `t.Skip` added to a test (or anywhere in Python, where `pytest.skip` only serves tests). */
export function testSkippedRule({ files }: RuleInput): PolicyViolation[] {
  const removedTexts = new Set(files.flatMap((f) => f.removed.map((l) => l.text.trim())));
  const out: PolicyViolation[] = [];
  for (const f of files) {
    if (!isTestFile(f.path) && !isPythonFile(f.path)) continue;
    for (const l of f.added) {
      if (isCommentLine(l.text) || removedTexts.has(l.text.trim())) continue;
      const p = SKIP_PATTERNS.find((re) => re.test(l.text));
      if (p && (isTestFile(f.path) || /pytest|unittest|SkipTest/.test(l.text)))
        out.push(violation("test-skipped", f.path, l.line, "skip/xfail added to tests", [plus(l)]));
    }
  }
  return out;
}

const TOLERANCE =
  /\b(rel|abs|atol|rtol|rel_tol|abs_tol|places|decimal|delta|epsilon|tolerance|tol)\s*=\s*([-+0-9.eE_]+)/g;
/** For these, a smaller number is looser (fewer decimal places compared). */
const PLACES_KEYS = new Set(["places", "decimal"]);

function tolerances(lines: readonly DiffLine[]): { key: string; value: number; at: DiffLine }[] {
  const out: { key: string; value: number; at: DiffLine }[] = [];
  for (const at of lines) {
    if (isCommentLine(at.text)) continue;
    for (const m of at.text.matchAll(TOLERANCE))
      out.push({ key: m[1]!, value: Number(m[2]!.replace(/_/g, "")), at });
  }
  return out;
}

/**
 * Assertions removed or loosened: fewer real assertions in a test than before, `assert True`-style assertions,
 * commented-out assertions, widened tolerances.
 */
export function assertWeakenedRule({ files, readers }: RuleInput): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  for (const f of files) {
    if (!isTestFile(f.path) || f.status === "deleted") continue;
    const lang = languageOf(f.path);
    for (const l of f.added) {
      if (isTrivialAssertion(l.text))
        out.push(violation("assert-weakened", f.path, l.line, "assertion that cannot fail added", [plus(l)]));
      else if (/^\s*(?:#|\/\/)\s*(?:assert\b|self\.assert|expect\s*\(|t\.(?:Error|Fatal))/.test(l.text))
        out.push(violation("assert-weakened", f.path, l.line, "assertion commented out", [plus(l)]));
    }
    for (const h of f.hunks) {
      if (h.removed.length === 0) continue;
      const before = tolerances(h.removed);
      for (const t of tolerances(h.added)) {
        const old = before.find((b) => b.key === t.key);
        const widened = old
          ? PLACES_KEYS.has(t.key)
            ? t.value < old.value
            : Math.abs(t.value) > Math.abs(old.value)
          : true;
        if (widened)
          out.push(
            violation(
              "assert-weakened",
              f.path,
              t.at.line,
              old
                ? `tolerance ${t.key} widened from ${old.value} to ${t.value}`
                : `tolerance ${t.key}=${t.value} added to an existing check`,
              [...(old ? [minus(old.at)] : h.removed.slice(0, 2).map(minus)), plus(t.at)],
            ),
          );
      }
    }
    const base = readers?.base(f.oldPath);
    const current = readers?.current(f.path);
    if (base !== undefined && current !== undefined) {
      const after = new Map(extractTests(f.path, current).map((t) => [t.qualified, t]));
      for (const t of extractTests(f.oldPath, base)) {
        const now = after.get(t.qualified);
        if (now && now.asserts < t.asserts) {
          const lost = f.removed.filter((l) => isAssertionLine(l.text, lang)).map(minus);
          out.push(
            violation(
              "assert-weakened",
              f.path,
              now.line,
              `${t.qualified}: assertions dropped from ${t.asserts} to ${now.asserts}`,
              lost,
            ),
          );
        }
      }
    } else if (f.status !== "added") {
      const removed = f.removed.filter((l) => isAssertionLine(l.text, lang));
      const added = f.added.filter((l) => isAssertionLine(l.text, lang));
      if (removed.length > added.length)
        out.push(
          violation(
            "assert-weakened",
            f.path,
            removed[0]?.line ?? 0,
            `assertions dropped: ${removed.length} removed, ${added.length} added`,
            removed.map(minus),
          ),
        );
    }
  }
  return out;
}

const COLLECTION_HOOKS =
  /\b(?:pytest_collection_modifyitems|pytest_ignore_collect|pytest_collect_file|pytest_pycollect_makeitem|pytest_deselected|pytest_runtest_setup|pytest_runtest_call|pytest_runtest_makereport|pytest_configure|collect_ignore(?:_glob)?|pytest_plugins)\b/;
const COLLECTION_ARGS =
  /(?:^|[\s"'=])(?:-k|-m|--deselect|--ignore(?:-glob)?|--lf|--last-failed|--co|-p\s*no:|--continue-on-collection-errors)(?=[\s"'=]|$)/;
const COLLECTION_KEYS =
  /^\s*(?:testpaths|python_files|python_classes|python_functions|norecursedirs|addopts)\s*=/;

/** The `[section]` a line sits in (TOML and INI), from the file's content. */
function sectionAt(content: string, line: number): string | undefined {
  const lines = content.split(/\r?\n/).slice(0, line);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^\s*\[([^\]]+)\]\s*$/.exec(lines[i]!);
    if (m) return m[1]!.trim();
  }
  return undefined;
}

function isPytestSection(kind: string, section: string | undefined): boolean {
  if (kind === "pytest.ini") return true;
  if (section === undefined) return false;
  if (kind === "pyproject.toml")
    return section === "tool.pytest.ini_options" || section.startsWith("tool.pytest");
  if (kind === "setup.cfg") return section === "tool:pytest";
  return section === "pytest";
}

/** Collection narrowed: pytest's config sections changed (testpaths, -k, --deselect, addopts …), or conftest hooks that skip/deselect. */
export function collectionNarrowedRule({ files, readers }: RuleInput): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  for (const f of files) {
    const kind = pytestConfigKind(f.path);
    if (kind) {
      const current = readers?.current(f.path);
      const base = readers?.base(f.oldPath);
      const touched = (side: "added" | "removed"): DiffLine[] =>
        f[side].filter((l) => {
          const content = side === "added" ? current : base;
          if (content !== undefined)
            return isPytestSection(kind, sectionAt(content, l.line)) && l.text.trim() !== "";
          return kind === "pytest.ini" || COLLECTION_KEYS.test(l.text) || COLLECTION_ARGS.test(l.text);
        });
      const changed = [...touched("removed").map(minus), ...touched("added").map(plus)];
      if (changed.length > 0)
        out.push(
          violation(
            "collection-narrowed",
            f.path,
            touched("added")[0]?.line ?? touched("removed")[0]?.line ?? 0,
            `pytest configuration changed in ${kind}`,
            changed,
          ),
        );
      continue;
    }
    if (!isPythonFile(f.path)) continue;
    for (const l of f.added) {
      if (isCommentLine(l.text)) continue;
      if (
        COLLECTION_HOOKS.test(l.text) ||
        (isTestFile(f.path) && /\bitems\s*\[\s*:\s*\]\s*=|\bitems\.(?:remove|pop|clear)\(/.test(l.text))
      )
        out.push(violation("collection-narrowed", f.path, l.line, "pytest collection hook added", [plus(l)]));
    }
  }
  return out;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
