import path from "node:path";
import type { Workspace } from "../workspace/workspace.js";

/**
 * Just enough of Python's structure, read from the text, to show the model the code a failing test runs: where a
 * `def`/`class` block starts and ends (by indentation), what a module's names refer to (its imports and top-level
 * definitions), and which module file a dotted name lives in (package folders, `src/` layout). Nothing is
 * executed; a name that cannot be resolved is simply not shown.
 */

export interface Block {
  /** 1-based, inclusive; decorators included. */
  start: number;
  end: number;
}

const INDENT = /^[ \t]*/;

function indentOf(line: string): number {
  return INDENT.exec(line)![0].replace(/\t/g, "    ").length;
}

/** The `def`/`class` block whose header is on `line` (1-based): decorators above, body below, trailing blanks cut. */
export function blockAt(lines: readonly string[], line: number): Block {
  const i0 = line - 1;
  const base = indentOf(lines[i0] ?? "");
  let start = i0;
  while (start > 0 && /^\s*@/.test(lines[start - 1]!) && indentOf(lines[start - 1]!) === base) start--;
  // The header may span lines (arguments in parentheses, `):` back at the def's indentation).
  let i = i0;
  let depth = 0;
  for (; i < lines.length; i++) {
    for (const ch of lines[i]!.replace(/#.*$/, "")) {
      if ("([{".includes(ch)) depth++;
      else if (")]}".includes(ch)) depth--;
    }
    if (depth <= 0) break;
  }
  let end = i;
  for (let j = i + 1; j < lines.length; j++) {
    const l = lines[j]!;
    if (l.trim() === "") continue;
    if (indentOf(l) <= base) break;
    end = j;
  }
  return { start: start + 1, end: end + 1 };
}

/** Top-level (or class-level, with `indent`) `def`/`class` named `name`: its header line, 1-based. */
export function findDefinition(lines: readonly string[], name: string, within?: Block): number | undefined {
  const re = new RegExp(`^(\\s*)(?:async\\s+)?(?:def|class)\\s+${name}\\b`);
  const from = within ? within.start : 1;
  const to = within ? within.end : lines.length;
  let bestIndent = Number.POSITIVE_INFINITY;
  let best: number | undefined;
  for (let n = from; n <= to; n++) {
    const m = re.exec(lines[n - 1]!);
    if (m && m[1]!.length < bestIndent) {
      bestIndent = m[1]!.length;
      best = n;
    }
  }
  return best;
}

/** What a local name in a module refers to. */
export type Binding =
  | { kind: "module"; module: string }
  | { kind: "attr"; module: string; name: string }
  | { kind: "local"; line: number };

/** The dotted module of a file (`src/shop/util/money.py` → `shop.util.money`), and whether it is a package. */
export function moduleOf(rel: string): { module: string; isPackage: boolean } {
  const noExt = rel.replace(/\.py$/, "").replace(/^src\//, "");
  const isPackage = noExt.endsWith("/__init__") || noExt === "__init__";
  const parts = noExt.split("/").filter((p) => p !== "__init__");
  return { module: parts.join("."), isPackage };
}

function absoluteModule(from: string, current: string, isPackage: boolean): string {
  const dots = /^\.*/.exec(from)![0].length;
  if (dots === 0) return from;
  const base = current.split(".");
  // `from . import x` in a package's __init__ is relative to the package itself.
  const keep = base.length - (isPackage ? dots - 1 : dots);
  const rest = from.slice(dots);
  return [...base.slice(0, Math.max(0, keep)), ...(rest ? [rest] : [])].join(".");
}

/** Local names of a module: imports (`from x import y as z`, `import x.y as z`, `import x.y`) and definitions. */
export function bindingsOf(source: string, rel: string): Map<string, Binding> {
  const { module: current, isPackage } = moduleOf(rel);
  const names = new Map<string, Binding>();
  // `from x import (a,\n b)` spans lines.
  for (const m of source.matchAll(/^[ \t]*from\s+([\w.]+)\s+import\s+(?:\(([^)]*)\)|([^\n#]+))/gm)) {
    const mod = absoluteModule(m[1]!, current, isPackage);
    for (const part of (m[2] ?? m[3]!).replace(/#.*$/gm, "").split(",")) {
      const [name, alias] = part
        .trim()
        .split(/\s+as\s+/)
        .map((s) => s.trim());
      if (!name || name === "*") continue;
      names.set(alias ?? name, { kind: "attr", module: mod, name });
    }
  }
  for (const m of source.matchAll(/^[ \t]*import\s+([^\n#]+)/gm)) {
    for (const part of m[1]!.split(",")) {
      const [mod, alias] = part
        .trim()
        .split(/\s+as\s+/)
        .map((s) => s.trim());
      if (!mod) continue;
      if (alias) names.set(alias, { kind: "module", module: mod });
      else names.set(mod.split(".")[0]!, { kind: "module", module: mod.split(".")[0]! });
    }
  }
  const lines = source.split(/\r?\n/);
  lines.forEach((l, i) => {
    const m = /^(?:async\s+)?(?:def|class)\s+(\w+)/.exec(l);
    if (m) names.set(m[1]!, { kind: "local", line: i + 1 });
  });
  return names;
}

/** The file of a dotted module in the sandbox, if it is one of the repository's own. */
export function moduleFile(files: Workspace, module: string): string | undefined {
  const p = module.split(".").join("/");
  for (const candidate of [`${p}.py`, `${p}/__init__.py`, `src/${p}.py`, `src/${p}/__init__.py`]) {
    try {
      files.read(candidate);
      return files.resolve(candidate).split(path.sep).join("/");
    } catch {
      // not there
    }
  }
  return undefined;
}
