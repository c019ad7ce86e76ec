import { readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type YAMLMap } from "yaml";
import type { Check } from "../core/types.js";
import { pythonImportRoot } from "../profiles/odibi/gate-env.js";
import { GOLDEN_GATE } from "../profiles/odibi/golden-gate.js";
import { listGoldenProjects } from "../profiles/odibi/golden-projects.js";
import type { Workspace } from "../workspace/workspace.js";
import { viewFile } from "./file-tools.js";

/**
 * What the model needs to fix a failing golden node (issue 12, item 1), as prompt sections: the node's error and
 * the traceback frames inside the repository with the code around them, the node's YAML (the golden projects live
 * outside the sandbox, where the model's tools cannot read), and the source of the pattern or transformer it runs.
 */

/** Nodes described per prompt (the task focuses on one; more would crowd it). */
const MAX_NODES = 2;
/** Frames inside the repository shown with code, innermost first. */
const MAX_FRAME_WINDOWS = 3;
/** Lines either side of the innermost frame's line; of the frames that called it. */
const INNER_CONTEXT = 8;
const OUTER_CONTEXT = 3;
/** A pattern's or transformer's definition is shown up to this many lines. */
const MAX_DEFINITION_LINES = 80;

/** `golden:<project>/<pipeline>/<node>`, the id of a node check (golden-gate.ts). */
export interface GoldenNodeId {
  project: string;
  pipeline: string;
  node: string;
}

export function parseGoldenNodeId(id: string): GoldenNodeId | undefined {
  if (!id.startsWith(`${GOLDEN_GATE}:`)) return undefined;
  const parts = id.slice(GOLDEN_GATE.length + 1).split("/");
  if (parts.length !== 3 || parts.some((p) => !p || p.includes("#"))) return undefined;
  return { project: parts[0]!, pipeline: parts[1]!, node: parts[2]! };
}

export interface TracebackFrame {
  file: string;
  line: number;
  func: string;
}

/** The frames of a Python traceback, outermost first (as Python prints them). */
export function tracebackFrames(text: string): TracebackFrame[] {
  return [...text.matchAll(/^\s*File "([^"]+)", line (\d+), in (.+)$/gm)].map((m) => ({
    file: m[1]!,
    line: Number(m[2]),
    func: m[3]!.trim(),
  }));
}

/** A frame's file as a sandbox-relative path, or undefined when it is outside the sandbox (site-packages). */
function inSandbox(files: Workspace, file: string): string | undefined {
  const candidates = [file];
  try {
    candidates.push(realpathSync(file));
  } catch {
    // not on this machine (another jail layout): the literal path only
  }
  for (const c of candidates) {
    const rel = path.relative(files.root, c);
    if (!rel || rel.startsWith("..") || path.isAbsolute(rel)) continue;
    try {
      return files.resolve(rel);
    } catch {
      // refused by the sandbox's confinement
    }
  }
  return undefined;
}

/** The node's mapping in a golden config, with its source lines (comments kept). */
export function nodeYaml(
  configText: string,
  pipeline: string,
  node: string,
): { text: string; firstLine: number; lastLine: number; names: string[] } | undefined {
  const lc = new LineCounter();
  const doc = parseDocument(configText, { lineCounter: lc });
  const pipelines = doc.get("pipelines");
  if (!isSeq(pipelines)) return undefined;
  const p = pipelines.items.find((x) => isMap(x) && x.get("pipeline") === pipeline);
  const nodes = isMap(p) ? p.get("nodes") : undefined;
  if (!isSeq(nodes)) return undefined;
  const n = nodes.items.find((x) => isMap(x) && x.get("name") === node) as YAMLMap | undefined;
  if (!n?.range) return undefined;
  const firstLine = lc.linePos(n.range[0]).line;
  const lastLine = lc.linePos(Math.max(n.range[0], n.range[1] - 1)).line;
  const lines = configText
    .replace(/\r\n/g, "\n")
    .split("\n")
    .slice(firstLine - 1, lastLine);
  return { text: lines.join("\n").trimEnd(), firstLine, lastLine, names: runsNames(n) };
}

/** What a node runs, by the names odibi resolves: `pattern.type`, `transformer`, `transform.steps[].function`. */
function runsNames(n: YAMLMap): string[] {
  const names: string[] = [];
  const text = (v: unknown) => (isScalar(v) ? v.value : v);
  const pattern = n.get("pattern");
  const type = isMap(pattern) ? text(pattern.get("type")) : undefined;
  if (typeof type === "string") names.push(type);
  const transformer = text(n.get("transformer"));
  if (typeof transformer === "string") names.push(transformer);
  const transform = n.get("transform");
  const steps = isMap(transform) ? transform.get("steps") : undefined;
  if (isSeq(steps))
    for (const s of steps.items) {
      const fn = isMap(s) ? text(s.get("function")) : undefined;
      if (typeof fn === "string") names.push(fn);
    }
  return [...new Set(names)];
}

/** Where odibi defines a name it resolves: `{file, symbol}` with `symbol` a class (pattern) or function. */
export interface Definition {
  kind: "pattern" | "transformer";
  name: string;
  file: string;
  /** `FactPattern.execute` or `scd2`. */
  symbol: string;
}

function tryRead(files: Workspace, rel: string): string | undefined {
  try {
    return files.read(rel);
  } catch {
    return undefined;
  }
}

/**
 * A pattern or transformer name to its definition, read from the tree's own registries: the pattern table in
 * `odibi/patterns/__init__.py` (`"fact": FactPattern` + its import) and the `registry.register(module.func, "name", …)`
 * calls in `odibi/transformers/__init__.py`.
 */
export function findDefinition(files: Workspace, name: string): Definition | undefined {
  const pkg = path
    .relative(files.root, path.join(pythonImportRoot(files.root), "odibi"))
    .split(path.sep)
    .join("/");
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const patterns = tryRead(files, `${pkg}/patterns/__init__.py`) ?? "";
  const cls = new RegExp(`["']${esc}["']\\s*:\\s*(\\w+)`).exec(patterns)?.[1];
  const mod =
    cls &&
    new RegExp(`from\\s+odibi\\.patterns\\.(\\w+)\\s+import\\s+[^\\n]*\\b${cls}\\b`).exec(patterns)?.[1];
  if (cls && mod)
    return { kind: "pattern", name, file: `${pkg}/patterns/${mod}.py`, symbol: `${cls}.execute` };
  const transformers = tryRead(files, `${pkg}/transformers/__init__.py`) ?? "";
  const reg = new RegExp(`register\\(\\s*(\\w+)\\.(\\w+)\\s*,\\s*["']${esc}["']`).exec(transformers);
  if (reg) return { kind: "transformer", name, file: `${pkg}/transformers/${reg[1]}.py`, symbol: reg[2]! };
  return undefined;
}

/** The lines of `def <fn>` (inside `class <cls>` when given): from the definition to the next one as indented. */
function definitionLines(source: string, symbol: string): { start: number; end: number } | undefined {
  const lines = source.replace(/\r\n/g, "\n").split("\n");
  const [first, second] = symbol.split(".");
  const fn = second ?? first!;
  let from = 0;
  if (second) {
    from = lines.findIndex((l) => new RegExp(`^class ${first}\\b`).test(l));
    if (from < 0) return undefined;
  }
  const at = lines.findIndex((l, i) => i >= from && new RegExp(`^\\s*(?:async\\s+)?def ${fn}\\(`).test(l));
  if (at < 0) return undefined;
  const indent = /^\s*/.exec(lines[at]!)![0].length;
  let end = at + 1;
  while (end < lines.length) {
    const l = lines[end]!;
    if (l.trim() && /^\s*/.exec(l)![0].length <= indent && !/^\s*[)\]}]/.test(l)) break;
    end++;
  }
  while (end > at + 1 && !lines[end - 1]!.trim()) end--;
  return { start: at + 1, end: Math.min(end, at + MAX_DEFINITION_LINES) };
}

interface LocalFrame extends TracebackFrame {
  rel: string;
}

/** The failing node's error and its frames inside the repository (outermost first). */
function nodeError(files: Workspace, c: Check): { frames: LocalFrame[]; left: number; exception?: string } {
  const detail = stripVTControlCharacters(c.detail ?? "");
  const all = tracebackFrames(detail);
  const frames = all.flatMap((f) => {
    const rel = inSandbox(files, f.file);
    return rel ? [{ ...f, rel }] : [];
  });
  const exception = detail
    .split("\n")
    .findLast((l) => /^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*:/.test(l))
    ?.trim();
  return { frames, left: all.length - frames.length, exception };
}

/** A shown window of a file: frames inside it need no window of their own. */
interface Span {
  rel: string;
  start: number;
  end: number;
}

function describeNode(
  files: Workspace,
  c: Check,
  id: GoldenNodeId,
  names: string[],
  err: ReturnType<typeof nodeError>,
  covered: Span[],
): string {
  const runs = names.length ? ` (runs ${names.join(", ")})` : "";
  const head = [
    `Failing golden node: project ${id.project}, pipeline ${id.pipeline}, node ${id.node}${runs}`,
    `Check: ${c.id}`,
    `Error: ${stripVTControlCharacters(c.message ?? c.errorType ?? "failed")}`,
  ];
  if (err.frames.length === 0 && err.left === 0) {
    head.push("(odibi recorded no traceback for this node)");
    return head.join("\n");
  }
  head.push(
    `Traceback frames inside the repository (outermost first; ${err.left} frame(s) in installed libraries left out):`,
    ...err.frames.map((f) => `  ${f.rel}:${f.line} in ${f.func}`),
  );
  if (err.exception) head.push(`  ${err.exception}`);
  const windows: string[] = [];
  const shown = [...covered];
  for (const [i, f] of [...err.frames].reverse().entries()) {
    if (windows.length >= MAX_FRAME_WINDOWS) break;
    if (shown.some((s) => s.rel === f.rel && s.start <= f.line && f.line <= s.end)) continue;
    const context = i === 0 ? INNER_CONTEXT : OUTER_CONTEXT;
    const span = { rel: f.rel, start: Math.max(1, f.line - context), end: f.line + context };
    try {
      windows.push(
        `${i === 0 ? "Where it was raised" : `Called from ${f.func}`}: ${viewFile(files, f.rel, span.start, span.end)}`,
      );
      shown.push(span);
    } catch {
      // the file is gone from the sandbox: the frame line above still names it
    }
  }
  return [head.join("\n"), ...windows].join("\n\n");
}

/**
 * The source of what a node runs: for a pattern, the method of its class the innermost frame inside its file is in
 * (else `execute`); for a transformer, its function.
 */
function definitionSection(
  files: Workspace,
  name: string,
  frames: LocalFrame[],
): { text: string; span: Span } | undefined {
  const def = findDefinition(files, name);
  const source = def && tryRead(files, def.file);
  if (!def || !source) return undefined;
  const inner = frames.findLast((f) => f.rel === def.file && !f.func.startsWith("<"));
  const cls = def.kind === "pattern" ? def.symbol.split(".")[0] : undefined;
  const symbols = [...(inner ? [cls ? `${cls}.${inner.func}` : inner.func, inner.func] : []), def.symbol];
  for (const symbol of symbols) {
    const lines = definitionLines(source, symbol);
    if (!lines) continue;
    return {
      text: `The ${def.kind} \`${name}\` this node runs: ${symbol} in ${viewFile(files, def.file, lines.start, lines.end)}`,
      span: { rel: def.file, ...lines },
    };
  }
  return undefined;
}

/**
 * Prompt sections for the failing golden node checks among `checks` (none when there are none): the error with the
 * repository frames and code around them, the node's YAML from `goldenDir`, the pattern's/transformer's source.
 */
export function goldenEvidence(files: Workspace, goldenDir: string, checks: readonly Check[]): string[] {
  const sections: string[] = [];
  let projects: ReturnType<typeof listGoldenProjects> = [];
  try {
    projects = listGoldenProjects(goldenDir);
  } catch {
    // a broken golden manifest is the golden gate's to report; the node's error is still shown
  }
  const nodes = checks.flatMap((c) => {
    const id = c.status === "fail" && c.gate === GOLDEN_GATE ? parseGoldenNodeId(c.id) : undefined;
    return id ? [{ c, id }] : [];
  });
  for (const { c, id } of nodes.slice(0, MAX_NODES)) {
    const project = projects.find((p) => p.name === id.project);
    let yaml: ReturnType<typeof nodeYaml>;
    try {
      yaml = project && nodeYaml(readFileSync(project.config, "utf8"), id.pipeline, id.node);
    } catch {
      yaml = undefined;
    }
    const err = nodeError(files, c);
    const definitions = (yaml?.names ?? []).flatMap((n) => definitionSection(files, n, err.frames) ?? []);
    sections.push(
      describeNode(
        files,
        c,
        id,
        yaml?.names ?? [],
        err,
        definitions.map((d) => d.span),
      ),
    );
    if (project && yaml)
      sections.push(
        `The node's configuration: golden project ${id.project}, ${path.basename(project.config)} lines ${yaml.firstLine}-${yaml.lastLine}, pipeline ${id.pipeline} (outside the sandbox and read-only: the fix belongs in the code):\n${yaml.text}`,
      );
    sections.push(...definitions.map((d) => d.text));
  }
  return sections;
}
