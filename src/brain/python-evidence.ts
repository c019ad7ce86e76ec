import type { Check } from "../core/types.js";
import type { Workspace } from "../workspace/workspace.js";
import { viewFile } from "./file-tools.js";
import type { EvidenceSection } from "./prompts.js";
import { cleanDetail } from "./prompts.js";
import {
  type Binding,
  type Block,
  bindingsOf,
  blockAt,
  findDefinition,
  moduleFile,
} from "./python-source.js";
import type { ExecutedLines } from "./python-trace.js";

/** Longest test function or definition shown whole; a longer one is shown around the line that matters. */
const MAX_BLOCK_LINES = 50;
const FRAME_CONTEXT = 5;
/** One failing test's evidence, all parts together (the prompt should stay well under ~12k characters). */
const MAX_EVIDENCE_CHARS = 7000;
const MAX_ERROR_LINES = 30;
/** Folders of installed code: frames there are not the repository's. */
const FOREIGN =
  /(^|[\\/])(site-packages|dist-packages|\.venv|venv|\.tox|\.nox|lib[\\/]python\d[^\\/]*)([\\/]|$)/;

interface Frame {
  file: string;
  line: number;
}

interface Located extends Block {
  rel: string;
}

/** A `def`/`class` the failure leads to, in the sandbox. */
interface Definition extends Located {
  /** The header line. */
  line: number;
  isClass: boolean;
}

/** pytest's `E   ` lines (assertion with compared values, `where` lines, the exception), dedented. */
export function errorLines(detail: string): string[] {
  const e = cleanDetail(detail)
    .split("\n")
    .filter((l) => /^E(\s|$)/.test(l))
    .map((l) => l.slice(1));
  const indent = Math.min(...e.filter((l) => l.trim()).map((l) => /^\s*/.exec(l)![0].length));
  const lines = e.map((l) => l.slice(Number.isFinite(indent) ? indent : 0));
  return lines.length > MAX_ERROR_LINES
    ? [...lines.slice(0, 5), "…", ...lines.slice(lines.length - MAX_ERROR_LINES + 6)]
    : lines;
}

/** `path.py:12: in fn` / `path.py:12: ValueError` location lines of a pytest long traceback, outermost first. */
export function tracebackFrames(detail: string): Frame[] {
  const frames: Frame[] = [];
  for (const m of cleanDetail(detail).matchAll(/^((?:[A-Za-z]:)?[^\s:][^:\n]*\.py):(\d+):/gm))
    frames.push({ file: m[1]!, line: Number(m[2]) });
  return frames;
}

/** A traceback path → sandbox-relative, or undefined when it is installed code or outside the sandbox. */
function inRepository(files: Workspace, file: string): string | undefined {
  if (FOREIGN.test(file)) return undefined;
  try {
    const rel = files.resolve(
      file.startsWith("/") || /^[A-Za-z]:/.test(file) ? toRelative(files, file) : file,
    );
    return FOREIGN.test(rel) ? undefined : rel.replace(/\\/g, "/");
  } catch {
    return undefined;
  }
}

function toRelative(files: Workspace, abs: string): string {
  const root = files.root.replace(/\\/g, "/");
  const a = abs.replace(/\\/g, "/");
  return a.startsWith(`${root}/`) ? a.slice(root.length + 1) : abs;
}

function linesOf(files: Workspace, rel: string): string[] {
  return files.read(rel).split(/\r?\n/);
}

/** Calls in a body: dotted chains (`m.round_cents`, `Cart`, `self.helper`) and the method names called on anything. */
function callsIn(body: string): { chains: string[][]; methods: Set<string> } {
  const code = body.replace(/#.*$/gm, "");
  const chains = [...code.matchAll(/(?<![\w.])([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)\s*\(/g)].map((m) =>
    m[1]!.split(".").map((s) => s.trim()),
  );
  const methods = new Set([...code.matchAll(/\.\s*([A-Za-z_]\w*)\s*\(/g)].map((m) => m[1]!));
  return { chains, methods };
}

/**
 * Follows names through modules: `from x import y`, `import x.y as z`, package `__init__` re-exports, submodules.
 * Only the repository's own files are read; anything installed resolves to nothing.
 */
class Resolver {
  private readonly bindings = new Map<string, Map<string, Binding>>();
  constructor(private readonly files: Workspace) {}

  bindingsIn(rel: string): Map<string, Binding> {
    let b = this.bindings.get(rel);
    if (!b) {
      b = bindingsOf(this.files.read(rel), rel);
      this.bindings.set(rel, b);
    }
    return b;
  }

  definition(rel: string, line: number): Definition {
    const lines = linesOf(this.files, rel);
    const block = blockAt(lines, line);
    return { rel, line, ...block, isClass: /^\s*class\b/.test(lines[line - 1] ?? "") };
  }

  /** A module file, or a definition, that `name` of `module` is. */
  attr(module: string, name: string, depth = 0): { module: string } | Definition | undefined {
    if (depth > 5) return undefined;
    const rel = moduleFile(this.files, module);
    if (rel) {
      const b = this.bindingsIn(rel).get(name);
      if (b?.kind === "local") return this.definition(rel, b.line);
      if (b) {
        const r = this.binding(b, depth + 1);
        if (r) return r;
      }
    }
    return moduleFile(this.files, `${module}.${name}`) ? { module: `${module}.${name}` } : undefined;
  }

  binding(b: Binding, depth = 0): { module: string } | Definition | undefined {
    if (b.kind === "module") return moduleFile(this.files, b.module) ? { module: b.module } : undefined;
    if (b.kind === "attr") return this.attr(b.module, b.name, depth);
    return undefined;
  }

  method(cls: Definition, name: string): Definition | undefined {
    const line = findDefinition(linesOf(this.files, cls.rel), name, { start: cls.line + 1, end: cls.end });
    return line === undefined ? undefined : this.definition(cls.rel, line);
  }

  /** A call chain (`m.round_cents`, `Cart`, `self.total`) in `rel`, inside class `self` when there is one. */
  chain(rel: string, chain: string[], self: Definition | undefined): Definition | undefined {
    const [head, ...rest] = chain;
    let at: { module: string } | Definition | undefined;
    if (head === "self" || head === "cls") at = self;
    else {
      const b = this.bindingsIn(rel).get(head!);
      at = b?.kind === "local" ? this.definition(rel, b.line) : b && this.binding(b);
    }
    for (const seg of rest) {
      if (!at) return undefined;
      if ("module" in at) at = this.attr(at.module, seg);
      else if (at.isClass) at = this.method(at, seg);
      else return undefined;
    }
    return at && !("module" in at) ? at : undefined;
  }

  /** The class a line of `rel` is in, if any. */
  enclosingClass(rel: string, line: number): Definition | undefined {
    const lines = linesOf(this.files, rel);
    const own = /^\s*/.exec(lines[line - 1] ?? "")![0].length;
    for (let n = line - 1; n >= 1; n--) {
      const l = lines[n - 1]!;
      if (l.trim() === "" || /^\s*#/.test(l)) continue;
      const ind = /^\s*/.exec(l)![0].length;
      if (ind < own) {
        if (/^\s*class\b/.test(l)) return this.definition(rel, n);
        return ind === 0 ? undefined : this.enclosingClass(rel, n);
      }
    }
    return undefined;
  }

  /** The definitions a block calls that live in the repository: functions, methods, and the classes it builds. */
  calledBy(def: Located, self: Definition | undefined): Definition[] {
    const body = linesOf(this.files, def.rel)
      .slice(def.start - 1, def.end)
      .join("\n");
    const { chains, methods } = callsIn(body);
    const found: Definition[] = [];
    const classes: Definition[] = self ? [self] : [];
    for (const c of chains) {
      const d = this.chain(def.rel, c, self);
      if (!d || (d.rel === def.rel && d.line >= def.start && d.line <= def.end)) continue;
      found.push(d);
      if (d.isClass) classes.push(d);
    }
    // Methods called on objects the block made (`Cart().add(…)`, `cart.total()`).
    for (const cls of classes)
      for (const m of methods) {
        const d = this.method(cls, m);
        if (d && !(d.rel === def.rel && d.line >= def.start && d.line <= def.end)) found.push(d);
      }
    return found;
  }
}

/** The header's docstring (a string right after the header), as lines to leave out. */
function docstringOf(lines: readonly string[], b: Block): Block | undefined {
  let i = b.start - 1;
  while (i < b.end && !/:\s*(#.*)?$/.test(lines[i]!)) i++;
  const first = i + 1;
  const open = /^\s*[rRbBuU]?("""|''')/.exec(lines[first] ?? "");
  if (!open || first >= b.end) return undefined;
  const rest = (lines[first] ?? "").slice((lines[first] ?? "").indexOf(open[1]!) + 3);
  if (rest.includes(open[1]!)) return { start: first + 1, end: first + 1 };
  for (let j = first + 1; j < b.end; j++)
    if (lines[j]!.includes(open[1]!)) return { start: first + 1, end: j + 1 };
  return undefined;
}

/** Lines shown around each line a trace says the test ran. */
const RUN_CONTEXT = 2;

/**
 * A block as numbered lines (the tools' `view_file` format), its docstring left out; a block still longer than
 * MAX_BLOCK_LINES is shown, when `ran` (the lines the failing test executed in this file) reaches into it, as its
 * header and the lines the test ran with RUN_CONTEXT lines around each (the gaps named), else around `focus` (the
 * line that failed) or from its start.
 */
function renderBlock(
  lines: readonly string[],
  b: Located,
  focus?: number,
  ran?: ReadonlySet<number>,
): string {
  const doc = docstringOf(lines, b);
  let numbers: number[] = [];
  for (let n = b.start; n <= b.end; n++) if (!doc || n < doc.start || n > doc.end) numbers.push(n);
  let traced = false;
  if (numbers.length > MAX_BLOCK_LINES) {
    const path = ranPath(lines, b, numbers, ran);
    if (path) {
      numbers = path;
      traced = true;
    } else {
      const at = Math.max(0, numbers.indexOf(focus ?? b.start) - MAX_BLOCK_LINES / 2);
      const from = Math.min(at, numbers.length - MAX_BLOCK_LINES);
      numbers = numbers.slice(Math.max(0, from), Math.max(0, from) + MAX_BLOCK_LINES);
    }
  }
  const width = String(numbers.at(-1) ?? 1).length;
  const pad = " ".repeat(width);
  const body: string[] = [];
  numbers.forEach((n, i) => {
    const prev = numbers[i - 1];
    if (prev !== undefined && n > prev + 1) {
      const onlyDoc = doc && prev + 1 === doc.start && n - 1 === doc.end;
      body.push(
        onlyDoc
          ? `${pad}| (docstring, lines ${doc.start}-${doc.end}, not shown)`
          : `${pad}| (lines ${prev + 1}-${n - 1}: not run by this test, not shown)`,
      );
    }
    body.push(`${String(n).padStart(width)}| ${lines[n - 1]}`);
  });
  const how = traced ? ", the lines the failing test ran" : "";
  return `${b.rel} lines ${numbers[0]}-${numbers.at(-1)} of ${lines.length}${how}:\n${body.join("\n")}`;
}

/**
 * The lines of a long block worth showing when a trace says which of them the test ran: the header up to its
 * colon and every line run with RUN_CONTEXT around it. Undefined when the test ran none of them (a trace of another
 * path) or when that is still more than twice MAX_BLOCK_LINES.
 */
function ranPath(
  lines: readonly string[],
  b: Block,
  numbers: readonly number[],
  ran: ReadonlySet<number> | undefined,
): number[] | undefined {
  if (!ran) return undefined;
  const body = numbers.filter((n) => n > b.start && ran.has(n));
  if (body.length === 0) return undefined;
  const keep = new Set<number>();
  for (let n = b.start; n <= b.end; n++) {
    keep.add(n);
    if (/:\s*(#.*)?$/.test(lines[n - 1] ?? "")) break;
  }
  for (const n of body) for (let k = n - RUN_CONTEXT; k <= n + RUN_CONTEXT; k++) keep.add(k);
  const shown = numbers.filter((n) => keep.has(n));
  return shown.length > 2 * MAX_BLOCK_LINES ? undefined : shown;
}

/** Which test a pytest id names: file, classes, function (parameters dropped). */
function testOf(c: Check): { file: string; classes: string[]; name: string } | undefined {
  const [file, ...rest] = c.id.split("::");
  if (!file?.endsWith(".py") || rest.length === 0) return undefined;
  const name = rest.at(-1)!.replace(/\[.*$/, "");
  return { file: c.file ?? file, classes: rest.slice(0, -1), name };
}

class Shown {
  private readonly blocks: Located[] = [];
  covers(b: Located): boolean {
    return this.blocks.some((s) => s.rel === b.rel && s.start <= b.start && s.end >= b.end);
  }
  add(b: Located): void {
    this.blocks.push(b);
  }
}

/**
 * Evidence for one failing pytest test, most useful first: what failed (the assertion with its compared values, the
 * exception), the test's source, the traceback frames inside the repository (innermost first) with the code around
 * each line, then the definitions the test calls and those they call (resolved through imports), as bodies.
 * Undefined when the check is not a pytest test of a Python file in the sandbox.
 */
export function pytestEvidence(files: Workspace, c: Check, ran?: ExecutedLines): EvidenceSection | undefined {
  const test = testOf(c);
  if (!test) return undefined;
  let testRel: string;
  try {
    testRel = files.resolve(test.file).replace(/\\/g, "/");
    files.read(testRel);
  } catch {
    return undefined;
  }
  const r = new Resolver(files);
  const lines = linesOf(files, testRel);
  let scope: Block | undefined;
  for (const cls of test.classes) {
    const l = findDefinition(lines, cls, scope);
    scope = l === undefined ? undefined : blockAt(lines, l);
  }
  const defLine =
    c.line !== undefined && new RegExp(`def\\s+${test.name}\\b`).test(lines[c.line - 1] ?? "")
      ? c.line
      : findDefinition(lines, test.name, scope);

  const detail = c.detail ?? "";
  const frames = tracebackFrames(detail)
    .map((f) => ({ ...f, rel: inRepository(files, f.file) }))
    .filter((f): f is Frame & { rel: string } => f.rel !== undefined);
  const parts: string[] = [];
  let size = 0;
  const add = (text: string): boolean => {
    if (size + text.length > MAX_EVIDENCE_CHARS) return false;
    parts.push(text);
    size += text.length;
    return true;
  };
  const shown = new Shown();
  const view = (b: Located, focus?: number): string =>
    renderBlock(linesOf(files, b.rel), b, focus, b.rel === testRel ? undefined : ran?.get(b.rel));

  const error = errorLines(detail);
  if (error.length) add(`What failed (pytest):\n${error.map((l) => `  ${l}`).join("\n")}`);

  let testBlock: Located | undefined;
  if (defLine !== undefined) {
    testBlock = { rel: testRel, ...blockAt(lines, defLine) };
    const failingLine = frames.filter((f) => f.rel === testRel).at(0)?.line;
    add(`The test:\n${view(testBlock, failingLine)}`);
    shown.add(testBlock);
  }

  // Innermost first: the raise site, then its callers.
  const inner = frames
    .filter(
      (f) => !(testBlock && f.rel === testBlock.rel && f.line >= testBlock.start && f.line <= testBlock.end),
    )
    .reverse();
  const frameViews: string[] = [];
  for (const f of inner) {
    const w = { rel: f.rel, start: Math.max(1, f.line - FRAME_CONTEXT), end: f.line + FRAME_CONTEXT };
    if (shown.covers(w)) continue;
    shown.add(w);
    frameViews.push(viewFile(files, f.rel, w.start, w.end).replace(/\n\(lines \d+-\d+ not shown;.*\)$/, ""));
  }
  if (frameViews.length)
    add(
      `Traceback frames inside the repository (innermost first; the line pytest reports is the middle one):`,
    );
  for (const v of frameViews) if (!add(v)) break;

  if (testBlock) {
    const self = r.enclosingClass(testRel, testBlock.start);
    const first = r.calledBy(testBlock, self);
    const second = first
      .filter((d) => !d.isClass)
      .flatMap((d) => r.calledBy(d, r.enclosingClass(d.rel, d.line)));
    // Functions of the code under test first (a wrong value is made there), then the test's own helpers, then
    // classes not already shown through one of their methods (a stable sort keeps the call order within each).
    const rank = (d: Definition) => (d.isClass ? 2 : d.rel === testRel ? 1 : 0);
    const defs = [...first, ...second]
      .filter((d) => !(d.isClass && first.some((m) => m.rel === d.rel && m.line > d.line && m.line <= d.end)))
      .sort((a, b) => rank(a) - rank(b));
    let header = false;
    for (const d of defs) {
      if (shown.covers(d)) continue;
      shown.add(d);
      if (!header)
        header = add("Definitions the test calls (found through its imports), then what those call:");
      if (!header || !add(view(d))) break;
    }
  }
  if (parts.length === 0) return undefined;
  return { title: `Evidence for ${c.id}`, body: parts.join("\n\n"), covers: `${c.gate}\u0000${c.id}` };
}
