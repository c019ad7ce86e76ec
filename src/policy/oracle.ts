import { parse as parseToml } from "smol-toml";
import { EVERY_ORACLE, profileOf } from "../profiles/index.js";
import { globToRegExp } from "./paths.js";

/**
 * The frozen oracle, pure parts: which paths are oracle (a profile's globs), which parts of mixed files are, and
 * which lines of a Rust source file are test items. See src/profiles/oracle-paths.ts for what the oracle is.
 */

/** The oracle's globs of the named profile; without one, every profile's. */
export function oracleGlobs(profile?: string): readonly string[] {
  return profile === undefined ? EVERY_ORACLE : profileOf(profile).oracle;
}

const compiled = new Map<string, RegExp>();

/**
 * The oracle glob `p` matches, or undefined. Case-insensitive on every system: on Windows and macOS
 * `Tests/Conftest.py` is loaded as `tests/conftest.py`, and matching more than needed only keeps more frozen.
 */
export function oracleGlobOf(p: string, globs: readonly string[]): string | undefined {
  return globs.find((g) => {
    let re = compiled.get(g);
    if (!re) {
      re = new RegExp(globToRegExp(g).source, "i");
      compiled.set(g, re);
    }
    return re.test(p);
  });
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

type Doc = Record<string, unknown>;
/** Named parts of a parsed file: `tool.pytest` → its value (undefined = absent). */
type Parts = (doc: Doc) => Record<string, unknown>;

function at(doc: unknown, ...keys: string[]): unknown {
  let v = doc;
  for (const k of keys) v = v && typeof v === "object" ? (v as Doc)[k] : undefined;
  return v;
}

function pick(doc: Doc, paths: string[]): Record<string, unknown> {
  return Object.fromEntries(paths.map((p) => [p, at(doc, ...p.split("."))]));
}

/** `target.<cfg>.dev-dependencies` for every target table. */
function perTarget(doc: Doc, key: string): Record<string, unknown> {
  const targets = at(doc, "target");
  if (!targets || typeof targets !== "object") return {};
  return Object.fromEntries(
    Object.entries(targets as Doc).map(([t, v]) => [`target.${t}.${key}`, at(v, key)]),
  );
}

/** Every key of `obj` that starts with `prefix` (package.json `scripts.test:unit`). */
function prefixed(obj: unknown, prefix: string, label: string): Record<string, unknown> {
  if (!obj || typeof obj !== "object") return {};
  return Object.fromEntries(
    Object.entries(obj as Doc)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [`${label}.${k}`, v]),
  );
}

/**
 * Mixed files: the parts that are oracle (test and checker configuration) and the parts that decide what the tests
 * import. Compared on the parsed documents, so every syntax of the format (dotted keys, inline tables, sections
 * split in two) is the same part.
 */
interface MixedFile {
  format: "toml" | "json" | "ini";
  oracle: Parts;
  importPath: Parts;
}

const MIXED_FILES: Record<string, MixedFile> = {
  "pyproject.toml": {
    format: "toml",
    oracle: (d) =>
      pick(d, [
        "tool.pytest",
        "tool.ruff",
        "tool.mypy",
        "tool.pylint",
        "tool.flake8",
        "tool.coverage",
        "tool.pyright",
        "tool.isort",
        "tool.tox",
        "tool.hatch.envs",
      ]),
    importPath: (d) =>
      pick(d, [
        "tool.setuptools.package-dir",
        "tool.setuptools.packages",
        "tool.hatch.build",
        "tool.poetry.packages",
      ]),
  },
  "setup.cfg": {
    format: "ini",
    oracle: (d) =>
      Object.fromEntries(
        Object.entries(d).filter(([s]) =>
          /^(?:tool:pytest|pytest|flake8|pycodestyle|pydocstyle|isort|mypy(?:-.*)?|pylint(?:\..*)?|coverage:.*)$/i.test(
            s,
          ),
        ),
      ),
    importPath: (d) => ({
      "options.package_dir": at(d, "options", "package_dir"),
      "options.packages": at(d, "options", "packages"),
      "options.py_modules": at(d, "options", "py_modules"),
      "[options.packages.find]": d["options.packages.find"],
    }),
  },
  "Cargo.toml": {
    format: "toml",
    oracle: (d) => ({
      ...pick(d, [
        "lints",
        "workspace.lints",
        "test",
        "bench",
        "dev-dependencies",
        "dev_dependencies",
        "profile.test",
        "profile.bench",
        "package.autotests",
        "package.autobenches",
      ]),
      ...perTarget(d, "dev-dependencies"),
    }),
    importPath: (d) => pick(d, ["patch", "replace"]),
  },
  "package.json": {
    format: "json",
    oracle: (d) => ({
      ...prefixed(d.scripts, "test", "scripts"),
      ...prefixed(d.scripts, "pretest", "scripts"),
      ...prefixed(d.scripts, "posttest", "scripts"),
      ...prefixed(d.scripts, "lint", "scripts"),
      ...pick(d, ["jest", "vitest", "mocha", "ava", "c8", "nyc", "eslintConfig", "biome"]),
    }),
    importPath: (d) => pick(d, ["imports", "exports", "main", "module", "type", "workspaces"]),
  },
};

export function isMixedOracleFile(p: string): boolean {
  return baseName(p) in MIXED_FILES;
}

/** INI as configparser reads it: `[section]` → key (lower-cased) → value, continuation lines joined, comments dropped. */
function parseIni(text: string): Doc {
  const doc: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  let key: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*[#;]/.test(raw) || raw.trim() === "") continue;
    const header = /^\[([^\]]+)\]/.exec(raw);
    if (header) {
      doc[header[1]!.trim()] ??= {};
      section = doc[header[1]!.trim()];
      key = undefined;
    } else if (/^\s/.test(raw) && section && key !== undefined) section[key] += `\n${raw.trim()}`;
    else {
      const m = /^([^=:]+)[=:](.*)$/.exec(raw);
      section ??= doc[""] = {};
      key = (m?.[1] ?? raw).trim().toLowerCase();
      section[key] = (m?.[2] ?? "").trim();
    }
  }
  return doc;
}

function parseAs(format: MixedFile["format"], text: string): Doc {
  if (format === "toml") return parseToml(text) as Doc;
  if (format === "json") {
    const v: unknown = JSON.parse(text);
    return v && typeof v === "object" ? (v as Doc) : {};
  }
  return parseIni(text);
}

/** JSON with sorted keys: two parts are the same when their canonical texts are. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === "object" && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val as Doc).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : val,
  );
}

/**
 * The oracle (or import-path) parts of a mixed file that differ between base and current, by name (`tool.pytest`).
 * A side that does not parse counts as changed in every part when the texts differ: what a tool makes of a broken
 * file cannot be judged here. Undefined when `p` is not a mixed file.
 */
export function changedParts(
  p: string,
  kind: "oracle" | "importPath",
  base: string | undefined,
  current: string | undefined,
): string[] | undefined {
  const spec = MIXED_FILES[baseName(p)];
  if (!spec) return undefined;
  if (base === current) return [];
  const parts = (text: string | undefined): Record<string, unknown> | "unparsable" => {
    if (text === undefined) return {};
    try {
      return spec[kind](parseAs(spec.format, text));
    } catch {
      return "unparsable";
    }
  };
  const b = parts(base);
  const c = parts(current);
  if (b === "unparsable" || c === "unparsable") return ["(the file does not parse)"];
  const names = [...new Set([...Object.keys(b), ...Object.keys(c)])];
  return names.filter((n) => canonical(b[n]) !== canonical(c[n])).sort();
}

/**
 * Line ranges (1-based, inclusive) of Rust test items in a source file: each `#[cfg(test)]` / `#[test]` /
 * `#[tokio::test]`-style attribute through the end of the item it marks (its braces balanced, or its `;`).
 */
export function rustTestRanges(content: string): Array<[number, number]> {
  const lines = content.split(/\r?\n/);
  const ranges: Array<[number, number]> = [];
  const ATTR = /#\s*\[\s*(?:cfg\s*\(\s*test\s*\)|(?:\w+\s*::\s*)*test)\s*\]/;
  for (let i = 0; i < lines.length; i++) {
    if (!ATTR.test(lines[i]!)) continue;
    if (ranges.length && ranges.at(-1)![1] >= i + 1) continue; // inside an item already found
    let depth = 0;
    let opened = false;
    let end = lines.length;
    scan: for (let j = i; j < lines.length; j++) {
      const text = lines[j]!.replace(/\/\/.*$/, "").replace(/"(?:[^"\\]|\\.)*"/g, '""');
      const from = j === i ? text.search(ATTR) + (ATTR.exec(text)?.[0].length ?? 0) : 0;
      for (const ch of text.slice(Math.max(0, from))) {
        if (ch === "{") {
          depth++;
          opened = true;
        } else if (ch === "}") depth--;
        else if (ch === ";" && !opened) {
          end = j + 1;
          break scan;
        }
        if (opened && depth === 0) {
          end = j + 1;
          break scan;
        }
      }
    }
    ranges.push([i + 1, end]);
  }
  return ranges;
}
