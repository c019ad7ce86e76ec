import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { expect, it } from "vitest";

/**
 * Issue 11's layering check: walks every import of src/ (type-only imports and re-exports included, through the
 * TypeScript compiler's own pre-processor) and finds cycles between files and between top-level folders.
 */

const SRC = path.resolve(import.meta.dirname, "..", "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const deps: string[] = [];
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const target = path.resolve(path.dirname(file), fileName.replace(/\.js$/, ".ts"));
      deps.push(
        statSync(target, { throwIfNoEntry: false })?.isFile() ? target : path.join(target, "index.ts"),
      );
    }
    graph.set(file, deps);
  }
  return graph;
}

/** Strongly connected components with more than one member (Tarjan), each sorted, as relative names. */
function cycles(graph: Map<string, string[]>, name: (n: string) => string): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(name(w));
    } while (w !== v);
    if (scc.length > 1) out.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out.sort();
}

const rel = (f: string) => path.relative(SRC, f).split(path.sep).join("/");
const folder = (f: string) => rel(f).split("/")[0]!;

it("src/ has no import cycle between files", () => {
  expect(cycles(importGraph(), rel)).toEqual([]);
});

it("src/ has no import cycle between top-level folders", () => {
  const files = importGraph();
  const folders = new Map<string, string[]>();
  for (const [file, deps] of files) {
    const from = folder(file);
    const list = folders.get(from) ?? [];
    for (const d of deps) if (folder(d) !== from && !list.includes(folder(d))) list.push(folder(d));
    folders.set(from, list);
  }
  expect(cycles(folders, (f) => f)).toEqual([]);
});

/** docs/architecture.md's layers, lowest first: a folder imports only folders of lower layers. */
const LAYERS: string[][] = [
  ["core"],
  ["exec", "llm"],
  ["pyenv", "stories", "config"],
  ["environment"],
  ["workspace", "memory", "status", "analysis"],
  ["events"],
  ["gates"],
  ["profiles"],
  ["harness"],
  ["policy"],
  ["brain"],
  ["campaign", "remote"],
  ["dashboard"],
  ["cli"],
];

it("every folder of src/ is in a layer and imports only lower layers", () => {
  const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));
  const wrong: string[] = [];
  for (const [file, deps] of importGraph()) {
    const from = folder(file);
    if (!layerOf.has(from)) {
      wrong.push(`${from}: not in a layer (add it to docs/architecture.md and LAYERS)`);
      continue;
    }
    for (const d of deps) {
      const to = folder(d);
      if (to !== from && !((layerOf.get(to) ?? Number.POSITIVE_INFINITY) < layerOf.get(from)!))
        wrong.push(`${rel(file)} imports ${rel(d)}`);
    }
  }
  expect([...new Set(wrong)]).toEqual([]);
});
