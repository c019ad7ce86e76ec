import type { ParsedStory, StoryNode } from "../stories/story-parser.js";
import { nodeOperations, normalizeMessage, SQL_OP, shortHash } from "./normalize.js";
import { sqlShape, transformerForSql } from "./sql-equivalents.js";
import type { CommonPattern, FailureCluster, StoryExample, TransformerSuggestion } from "./usage-types.js";

/**
 * Roadmap E5.1: what odibi's users (and the harnesses) do, and what fails for them, from their run stories.
 * Stories are added one at a time (`add`); only aggregates are kept, so a folder of any size streams through.
 */

export interface AnalyzerOptions {
  /** Longest operation sequence counted (n-grams of 2..maxN). */
  maxN?: number;
  /** Runs (stories) a sequence must appear in to be a pattern. */
  minCount?: number;
  /** Distinct pipelines a chain must appear in to be worth one transformer. */
  minPipelines?: number;
}

const EXAMPLES = 3;
const LIST_CAP = 20;

interface Gram {
  sequence: string[];
  count: number;
  pipelines: Set<string>;
  examples: StoryExample[];
}

interface Cluster {
  errorType: string;
  message: string;
  count: number;
  stories: number;
  lastFile?: string;
  firstSeen?: string;
  lastSeen?: string;
  nodes: Set<string>;
  transformers: Set<string>;
  pipelines: Set<string>;
  example: StoryExample & { node: string; message: string };
  traceback?: string;
}

interface SqlUse {
  count: number;
  pipelines: Set<string>;
  shapes: Map<string, number>;
  examples: StoryExample[];
}

const addCapped = (set: Set<string>, value: string) => {
  if (set.size < LIST_CAP || set.has(value)) set.add(value);
};

export class UsageAnalyzer {
  private readonly grams = new Map<string, Gram>();
  private readonly clusters = new Map<string, Cluster>();
  private readonly sqlUses = new Map<string, SqlUse>();
  readonly operations = new Map<string, number>();
  stories = 0;
  nodes = 0;
  failedNodes = 0;
  private readonly maxN: number;
  private readonly minCount: number;
  private readonly minPipelines: number;

  constructor(opts: AnalyzerOptions = {}) {
    this.maxN = opts.maxN ?? 5;
    this.minCount = opts.minCount ?? 2;
    this.minPipelines = opts.minPipelines ?? 2;
  }

  /** Fold one story into the aggregates. */
  add(story: ParsedStory): void {
    this.stories++;
    const ex: StoryExample = { pipeline: story.pipeline, file: story.file };
    const sequence: string[] = [];
    for (const node of story.nodes) {
      this.nodes++;
      const ops = nodeOperations(node);
      for (const op of ops) this.operations.set(op, (this.operations.get(op) ?? 0) + 1);
      sequence.push(...ops);
      this.addSql(node, ex);
      if (node.status === "failed") this.addFailure(story, node, ops);
    }
    this.addGrams(sequence, ex);
  }

  private addGrams(sequence: string[], ex: StoryExample): void {
    const seen = new Set<string>();
    for (let n = 2; n <= Math.min(this.maxN, sequence.length); n++) {
      for (let i = 0; i + n <= sequence.length; i++) {
        const seq = sequence.slice(i, i + n);
        const key = seq.join("\u0000");
        if (seen.has(key)) continue;
        seen.add(key);
        const g = this.grams.get(key) ?? { sequence: seq, count: 0, pipelines: new Set(), examples: [] };
        g.count++;
        g.pipelines.add(ex.pipeline);
        if (g.examples.length < EXAMPLES && !g.examples.some((e) => e.pipeline === ex.pipeline))
          g.examples.push(ex);
        this.grams.set(key, g);
      }
    }
  }

  private addSql(node: StoryNode, ex: StoryExample): void {
    for (const step of node.steps) {
      const transformer = step.kind === "sql" && step.sql ? transformerForSql(step.sql) : undefined;
      if (!transformer) continue;
      const use = this.sqlUses.get(transformer) ?? {
        count: 0,
        pipelines: new Set<string>(),
        shapes: new Map<string, number>(),
        examples: [],
      };
      use.count++;
      addCapped(use.pipelines, ex.pipeline);
      const shape = sqlShape(step.sql!);
      if (use.shapes.has(shape) || use.shapes.size < EXAMPLES)
        use.shapes.set(shape, (use.shapes.get(shape) ?? 0) + 1);
      if (use.examples.length < EXAMPLES && !use.examples.some((e) => e.pipeline === ex.pipeline))
        use.examples.push(ex);
      this.sqlUses.set(transformer, use);
    }
  }

  private addFailure(story: ParsedStory, node: StoryNode, ops: string[]): void {
    this.failedNodes++;
    const errorType = node.cause?.type ?? node.errorType ?? "UnknownError";
    const raw = node.cause?.message ?? node.errorMessage ?? "(odibi recorded no error message)";
    const message = normalizeMessage(raw);
    const key = `${errorType}\u0000${message}`;
    const at = story.startedAt ?? story.completedAt;
    let c = this.clusters.get(key);
    if (!c) {
      c = {
        errorType,
        message,
        count: 0,
        stories: 0,
        nodes: new Set(),
        transformers: new Set(),
        pipelines: new Set(),
        example: { pipeline: story.pipeline, file: story.file, node: node.name, message: raw.slice(0, 1000) },
      };
      this.clusters.set(key, c);
    }
    c.count++;
    if (c.lastFile !== story.file) c.stories++;
    c.lastFile = story.file;
    if (at && (!c.firstSeen || at < c.firstSeen)) c.firstSeen = at;
    if (at && (!c.lastSeen || at > c.lastSeen)) c.lastSeen = at;
    addCapped(c.nodes, `${story.pipeline}/${node.name}`);
    addCapped(c.pipelines, story.pipeline);
    for (const op of ops) if (op !== SQL_OP) addCapped(c.transformers, op);
    c.traceback ??= node.traceback;
  }

  /** Operation sequences in at least `minCount` runs, most frequent first; a sequence inside a longer one seen as often is left out. */
  findCommonPatterns(): CommonPattern[] {
    const frequent = [...this.grams.values()]
      .filter((g) => g.count >= this.minCount)
      .sort((a, b) => b.sequence.length - a.sequence.length);
    const kept: Gram[] = [];
    for (const g of frequent) {
      const inside = kept.some(
        (k) =>
          k.count === g.count && k.sequence.length > g.sequence.length && contains(k.sequence, g.sequence),
      );
      if (!inside) kept.push(g);
    }
    return kept
      .sort(
        (a, b) => b.count - a.count || b.sequence.length - a.sequence.length || key(a).localeCompare(key(b)),
      )
      .map((g) => ({
        sequence: g.sequence,
        count: g.count,
        pipelines: [...g.pipelines].sort(),
        examples: g.examples,
      }));
  }

  /** Failures clustered by error type and masked message, most frequent first. */
  findFailurePatterns(): FailureCluster[] {
    return [...this.clusters.values()]
      .sort((a, b) => b.count - a.count || (b.lastSeen ?? "").localeCompare(a.lastSeen ?? ""))
      .map((c) => ({
        signature: `usage:${shortHash(`${c.errorType}\n${c.message}`)}`,
        errorType: c.errorType,
        message: c.message,
        count: c.count,
        stories: c.stories,
        ...(c.firstSeen ? { firstSeen: c.firstSeen } : {}),
        ...(c.lastSeen ? { lastSeen: c.lastSeen } : {}),
        nodes: [...c.nodes].sort(),
        transformers: [...c.transformers].sort(),
        pipelines: [...c.pipelines].sort(),
        example: c.example,
        ...(c.traceback ? { traceback: c.traceback } : {}),
      }));
  }

  /**
   * Chains of transformers that recur in `minPipelines` pipelines or more (one transformer could do them), and SQL
   * steps that re-implement a built-in transformer; each with its evidence.
   */
  suggestNewTransformers(): TransformerSuggestion[] {
    const chains = this.findCommonPatterns()
      .filter((p) => p.pipelines.length >= this.minPipelines && !p.sequence.includes(SQL_OP))
      .map((p): TransformerSuggestion => {
        const chain = p.sequence.join(" → ");
        return {
          kind: "chain",
          signature: `usage-chain:${shortHash(p.sequence.join(">"))}`,
          title: `one transformer for ${chain}`,
          sequence: p.sequence,
          count: p.count,
          pipelines: p.pipelines,
          evidence: [
            `${chain} ran in ${p.count} run(s) of ${p.pipelines.length} pipelines: ${p.pipelines.join(", ")}`,
            ...p.examples.map((e) => `e.g. ${e.pipeline}: ${e.file}`),
          ],
        };
      });
    return [...chains, ...this.sqlSuggestions()].sort((a, b) => b.count - a.count);
  }

  private sqlSuggestions(): TransformerSuggestion[] {
    return [...this.sqlUses.entries()].map(([transformer, u]) => ({
      kind: "sql",
      signature: `usage-sql:${transformer}`,
      title: `SQL steps re-implement the transformer ${transformer}`,
      transformer,
      count: u.count,
      pipelines: [...u.pipelines].sort(),
      evidence: [
        `${u.count} SQL step(s) in ${u.pipelines.size} pipeline(s) do what \`${transformer}\` does: ${[...u.pipelines].sort().join(", ")}`,
        ...[...u.shapes.entries()].map(([shape, n]) => `${n}× ${shape}`),
        ...u.examples.map((e) => `e.g. ${e.pipeline}: ${e.file}`),
      ],
    }));
  }
}

const key = (g: Gram) => g.sequence.join(">");

function contains(long: string[], short: string[]): boolean {
  for (let i = 0; i + short.length <= long.length; i++)
    if (short.every((s, j) => long[i + j] === s)) return true;
  return false;
}
