import { isTestFile } from "../paths.js";
import type { ChangedFile, PolicyViolation, RuleInput } from "../types.js";
import { matchLines, matchText, plus, violation } from "../violation.js";

export type FeatureKind = "transformer" | "pattern" | "cli-command" | "connection-type" | "entry-point";

interface Extractor {
  kind: FeatureKind;
  re: RegExp;
  /** The registered name from the match. */
  name(m: RegExpExecArray): string;
}

/**
 * How odibi (and the other profiles' usual frameworks) register features, read from odibi 3.15's source:
 * - transformers: `registry.register(module.func, "name", Params)` in `odibi/transformers/__init__.py`,
 *   `FunctionRegistry.register(...)`, and the `@transform` / `@transform("name")` decorator of `odibi/registry.py`;
 * - patterns: the `_PATTERNS = {"scd2": SCD2Pattern, …}` table of `odibi/patterns/__init__.py`, classes subclassing `Pattern`;
 * - CLI commands: argparse `subparsers.add_parser("name")` / `add_<x>_parser(subparsers)` in `odibi/cli/main.py`,
 *   click/typer `@group.command("name")`, commander `.command("name")` / `new Command("name")`;
 * - connection types: `register_connection_factory("type", factory)` in `odibi/connections/factory.py`.
 */
const EXTRACTORS: Extractor[] = [
  {
    kind: "transformer",
    re: /\b(?:registry|FunctionRegistry)\.register\(\s*([\w.]+)\s*(?:,\s*(?:name\s*=\s*)?["'](\w+)["'])?/g,
    name: (m) => m[2] ?? m[1]!.split(".").pop()!,
  },
  {
    kind: "transformer",
    re: /^\s*@(?:\w+\.)?transform\b(?:\(\s*(?:name\s*=\s*)?["'](\w+)["'])?[^\n]*\n(?:\s*@[^\n]*\n)*\s*(?:async\s+)?def\s+(\w+)/gm,
    name: (m) => m[1] ?? m[2]!,
  },
  { kind: "pattern", re: /["'](\w+)["']\s*:\s*(\w+Pattern)\b/g, name: (m) => m[1]! },
  { kind: "pattern", re: /^\s*class\s+(\w+)\s*\([^)]*\bPattern\b[^)]*\)/gm, name: (m) => m[1]! },
  { kind: "cli-command", re: /\badd_parser\(\s*["']([\w-]+)["']/g, name: (m) => m[1]! },
  { kind: "cli-command", re: /^\s*def\s+(add_\w+_parser)\s*\(/gm, name: (m) => m[1]! },
  { kind: "cli-command", re: /\.command\(\s*(?:name\s*=\s*)?["']([\w-]+)/g, name: (m) => m[1]! },
  {
    kind: "cli-command",
    re: /^\s*@\w+\.command\(\s*\)\s*\n(?:\s*@[^\n]*\n)*\s*def\s+(\w+)/gm,
    name: (m) => m[1]!,
  },
  { kind: "cli-command", re: /\bnew\s+Command\(\s*["']([\w-]+)/g, name: (m) => m[1]! },
  { kind: "connection-type", re: /\bregister_connection_factory\(\s*["'](\w+)["']/g, name: (m) => m[1]! },
];

interface Registration {
  kind: FeatureKind;
  name: string;
  line: number;
  text: string;
}

const ENTRY_POINT_SECTION =
  /^(?:project\.(?:scripts|gui-scripts|entry-points(?:\..+)?)|tool\.poetry\.scripts|options\.entry_points)$/;

/** `[project.scripts]` and friends in pyproject.toml / setup.cfg: each key is a command or plugin. */
function entryPoints(file: string, content: string): Registration[] {
  if (!/(^|\/)(pyproject\.toml|setup\.cfg)$/.test(file)) return [];
  const out: Registration[] = [];
  let section = "";
  content.split(/\r?\n/).forEach((text, i) => {
    const s = /^\s*\[([^\]]+)\]\s*$/.exec(text);
    if (s) section = s[1]!.trim();
    else if (ENTRY_POINT_SECTION.test(section)) {
      const k = /^\s*["']?([\w.-]+)["']?\s*=/.exec(text);
      if (k) out.push({ kind: "entry-point", name: `${section}:${k[1]}`, line: i + 1, text });
    }
  });
  return out;
}

function registrationsInText(file: string, content: string): Registration[] {
  const lines = content.split(/\r?\n/);
  const out = EXTRACTORS.flatMap((x) =>
    matchText(content, x.re).map(({ match, lineIndex }) => ({
      kind: x.kind,
      name: x.name(match),
      line: lineIndex + 1,
      text: lines[lineIndex] ?? "",
    })),
  );
  return [...out, ...entryPoints(file, content)];
}

function registrationsInLines(f: ChangedFile, side: "added" | "removed"): Registration[] {
  return EXTRACTORS.flatMap((x) =>
    matchLines(f[side], x.re).map(({ match, at }) => ({
      kind: x.kind,
      name: x.name(match),
      line: at.line,
      text: at.text,
    })),
  );
}

const key = (r: { kind: string; name: string }) => `${r.kind}:${r.name}`;

/** A new public module: a new importable Python/TS source file outside tests, docs, examples and scripts. */
function isNewPublicModule(f: ChangedFile): boolean {
  if (f.status !== "added" || isTestFile(f.path)) return false;
  if (/(^|\/)(docs?|examples?|scripts?|benchmarks?|bench|samples?)\//.test(f.path)) return false;
  const name = f.path.slice(f.path.lastIndexOf("/") + 1);
  if (name.startsWith("_") || name === "setup.py" || name === "conftest.py") return false;
  return (
    (f.path.includes("/") && name.endsWith(".py")) ||
    (/(^|\/)src\//.test(f.path) && /\.[cm]?tsx?$/.test(name))
  );
}

/**
 * `allow_new_features: false`: no new transformer, pattern, CLI command, connection type, entry point or public
 * module. A registration moved between files or reformatted is not new: names are compared across the whole change.
 */
export function newFeatureRule({ files, settings, readers }: RuleInput): PolicyViolation[] {
  if (settings.allow_new_features) return [];
  const before = new Set<string>();
  const after: { file: string; r: Registration }[] = [];
  for (const f of files) {
    const base = f.status === "added" ? "" : readers?.base(f.oldPath);
    const current = f.status === "deleted" ? "" : readers?.current(f.path);
    const old =
      base !== undefined ? registrationsInText(f.oldPath, base) : registrationsInLines(f, "removed");
    for (const r of old) before.add(key(r));
    const now =
      current !== undefined ? registrationsInText(f.path, current) : registrationsInLines(f, "added");
    for (const r of now) after.push({ file: f.path, r });
  }
  const out: PolicyViolation[] = [];
  const seen = new Set<string>();
  for (const { file, r } of after) {
    if (before.has(key(r)) || seen.has(key(r))) continue;
    seen.add(key(r));
    out.push(
      violation(
        "new-feature",
        file,
        r.line,
        `new ${r.kind} "${r.name}" registered (allow_new_features is false)`,
        [`+${r.text}`],
      ),
    );
  }
  for (const f of files)
    if (isNewPublicModule(f))
      out.push(
        violation(
          "new-feature",
          f.path,
          0,
          "new public module added (allow_new_features is false)",
          f.added.slice(0, 3).map(plus),
        ),
      );
  return out;
}
