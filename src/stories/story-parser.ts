import { existsSync, lstatSync, readdirSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { OdibiImproveError } from "../core/errors.js";
import { readRegularFile } from "../exec/read-regular-file.js";
import { type RawStory, type RawStoryNode, StorySchema } from "./story-schema.js";

/** A story file that is missing, not JSON, or not shaped like an odibi run story. */
export class StoryError extends OdibiImproveError {
  readonly file: string;
  constructor(file: string, problem: string, hint?: string) {
    super(`story ${file}: ${problem}`, {
      hint:
        hint ??
        "Stories are written by `odibi run` under the config's `story:` connection and path; check the run's log for why it did not write one.",
    });
    this.file = file;
  }
}

export type NodeStatus = "success" | "failed" | "skipped" | (string & {});

export interface StoryNode {
  name: string;
  operation?: string;
  status: NodeStatus;
  durationMs?: number;
  rowsIn?: number;
  rowsOut?: number;
  rowsWritten?: number;
  /** odibi's error class as the story records it (often the wrapper `NodeExecutionError`). */
  errorType?: string;
  errorMessage?: string;
  /** The underlying error odibi wrapped (`Error: …` / `Type: …` inside a NodeExecutionError message). */
  cause?: { type?: string; message: string };
  /**
   * odibi's cleaned traceback (Spark/Py4J noise removed), else the raw one, else the last attempt's from the retry
   * history (where odibi 3.15 keeps it); capped.
   */
  traceback?: string;
  executionSteps: string[];
  /** The node's `transformer:` (a transformer or a pattern), from its config, else from its execution steps. */
  transformer?: string;
  /** The node's `transform.steps`, in order (empty when it has none or odibi did not record them). */
  steps: TransformStepInfo[];
}

/** One step of a node's `transform.steps`: a registered function, a built-in operation, or SQL (inline or a file). */
export interface TransformStepInfo {
  kind: "function" | "operation" | "sql" | "sql_file";
  /** The function's or operation's name, the SQL file's path. */
  name?: string;
  /** The SQL text of an inline SQL step. */
  sql?: string;
}

export interface ParsedStory {
  file: string;
  pipeline: string;
  layer?: string;
  project?: string;
  runId: string;
  startedAt?: string;
  completedAt?: string;
  durationMs: number;
  totalNodes: number;
  completedNodes: number;
  failedNodes: number;
  skippedNodes: number;
  /** Percent (0–100), as odibi reports it. */
  successRate: number;
  rowsProcessed: number;
  nodes: StoryNode[];
}

/** A failed node with what a fixer needs: where, what, and odibi's own words. */
export interface NodeFailure {
  pipeline: string;
  runId: string;
  node: string;
  operation?: string;
  /** The most specific error type known: the wrapped cause's, else odibi's. */
  errorType: string;
  message: string;
  traceback?: string;
  storyFile: string;
}

const TRACEBACK_MAX_LINES = 80;

/** odibi wraps node errors as `…\n\n  Error: <message>\n  Type: <ErrorClass>\n…` (odibi/exceptions.py). */
export function extractCause(message: string | undefined): StoryNode["cause"] {
  if (!message) return undefined;
  const typed = /\n\s*Error: ([\s\S]*?)\n\s*Type: ([A-Za-z_][\w.]*)/.exec(message);
  if (typed) return { message: typed[1]!.trim(), type: typed[2] };
  const untyped = /\n\s*Error: ([\s\S]*?)(?:\n\s*\n|$)/.exec(message);
  return untyped ? { message: untyped[1]!.trim() } : undefined;
}

/** Keep the useful end of a traceback: trailing blanks trimmed, at most the last lines. */
export function cleanTraceback(tb: string | null | undefined): string | undefined {
  if (!tb?.trim()) return undefined;
  const lines = tb.replace(/\r\n/g, "\n").trimEnd().split("\n");
  if (lines.length <= TRACEBACK_MAX_LINES) return lines.join("\n");
  return [
    `… ${lines.length - TRACEBACK_MAX_LINES} earlier lines cut`,
    ...lines.slice(-TRACEBACK_MAX_LINES),
  ].join("\n");
}

/**
 * Python's `json.dump` writes `NaN`, `Infinity` and `-Infinity` (odibi 3.15.1 does, in the sample rows of a story
 * over null or empty data), which JSON does not allow: outside strings they are read as null.
 */
export function pythonConstantsAsNull(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      out += ch;
      if (ch === "\\") out += text[++i] ?? "";
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    const word = /^(?:NaN|-?Infinity)/.exec(text.slice(i, i + 9))?.[0];
    if (word) {
      out += "null";
      i += word.length - 1;
    } else out += ch;
  }
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function stepOf(step: unknown): TransformStepInfo | undefined {
  if (typeof step === "string") return { kind: "sql", sql: step };
  if (!isRecord(step)) return undefined;
  if (text(step.function)) return { kind: "function", name: text(step.function) };
  if (text(step.operation)) return { kind: "operation", name: text(step.operation) };
  if (text(step.sql)) return { kind: "sql", sql: text(step.sql) };
  if (text(step.sql_file)) return { kind: "sql_file", name: text(step.sql_file) };
  return undefined;
}

/**
 * A node's transform steps: from its config snapshot (odibi 3.x writes the steps with their SQL), else from its
 * transformation stack (function names, null for SQL) with the executed SQL beside it when they line up.
 */
function stepsOf(n: RawStoryNode): TransformStepInfo[] {
  const snap = isRecord(n.config_snapshot) ? n.config_snapshot : undefined;
  const configured = isRecord(snap?.transform) ? snap.transform.steps : undefined;
  if (Array.isArray(configured)) return configured.flatMap((s) => stepOf(s) ?? []);
  const stack = n.transformation_stack ?? [];
  const sql = n.executed_sql ?? [];
  return stack.map((name, i) =>
    name
      ? { kind: "function", name }
      : { kind: "sql", ...(stack.length === sql.length ? { sql: sql[i] } : {}) },
  );
}

/** `transformer:` from the config snapshot, else odibi's "Applied transformer 'x'" / "Applied pattern 'x'" step. */
function transformerOf(n: RawStoryNode): string | undefined {
  const snap = n.config_snapshot;
  if (isRecord(snap) && text(snap.transformer)) return text(snap.transformer);
  for (const step of n.execution_steps ?? []) {
    const m = /^Applied (?:transformer|pattern) '([^']+)'/.exec(step);
    if (m) return m[1];
  }
  return undefined;
}

function toNode(n: RawStoryNode): StoryNode {
  const errorMessage = n.error_message ?? undefined;
  const failed = n.retry_history?.findLast((a) => a.error_traceback_cleaned || a.error_traceback);
  return {
    name: n.node_name,
    operation: n.operation ?? undefined,
    status: n.status,
    durationMs: n.duration == null ? undefined : Math.round(n.duration * 1000),
    rowsIn: n.rows_in ?? undefined,
    rowsOut: n.rows_out ?? undefined,
    rowsWritten: n.rows_written ?? undefined,
    errorType: n.error_type ?? undefined,
    errorMessage,
    cause: extractCause(errorMessage),
    traceback: cleanTraceback(
      n.error_traceback_cleaned ||
        n.error_traceback ||
        failed?.error_traceback_cleaned ||
        failed?.error_traceback,
    ),
    executionSteps: n.execution_steps ?? [],
    transformer: transformerOf(n),
    steps: stepsOf(n),
  };
}

function toStory(file: string, s: RawStory): ParsedStory {
  return {
    file,
    pipeline: s.pipeline_name,
    layer: s.pipeline_layer ?? undefined,
    project: s.project ?? undefined,
    runId: s.run_id,
    startedAt: s.started_at ?? undefined,
    completedAt: s.completed_at ?? undefined,
    durationMs: Math.round(s.duration * 1000),
    totalNodes: s.total_nodes,
    completedNodes: s.completed_nodes,
    failedNodes: s.failed_nodes,
    skippedNodes: s.skipped_nodes,
    successRate: s.success_rate,
    rowsProcessed: s.total_rows_processed ?? 0,
    nodes: s.nodes.map(toNode),
  };
}

/** Is this JSON document a pipeline run story (and not, say, the lineage file odibi writes next to them)? */
function looksLikeRunStory(doc: unknown): boolean {
  return typeof doc === "object" && doc !== null && "pipeline_name" in doc && "nodes" in doc;
}

/**
 * Reads odibi's JSON run stories (roadmap E1.2). The HTML next to each is for people; this reads the JSON.
 * A missing or malformed story is a StoryError naming the file and the first fields that are wrong.
 */
export class StoryParser {
  parse(file: string): ParsedStory {
    // Stories are written by the jailed odibi run: a FIFO or a link in their place must not block or redirect us.
    const read = readRegularFile(file);
    if (read.kind === "absent") throw new StoryError(file, "not found");
    if (read.kind === "refused") throw new StoryError(file, read.why);
    return this.parseText(read.text, file);
  }

  parseText(text: string, file = "<story>"): ParsedStory {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      try {
        doc = JSON.parse(pythonConstantsAsNull(text));
      } catch {
        throw new StoryError(file, `not valid JSON (${e instanceof Error ? e.message : String(e)})`);
      }
    }
    return this.parseDocument(doc, file);
  }

  /** A story from its parsed JSON document; a StoryError naming the file when it is not shaped like one. */
  parseDocument(doc: unknown, file = "<story>"): ParsedStory {
    const parsed = StorySchema.safeParse(doc);
    if (!parsed.success)
      throw new StoryError(
        file,
        `not an odibi run story:\n${z.prettifyError(parsed.error)}`,
        "Is this an odibi run story JSON (`<story dir>/<pipeline>/<date>/run_<time>.json`)? Lineage and index files are not.",
      );
    return toStory(file, parsed.data);
  }

  /** Every run story under a story folder (lineage and other JSON files skipped), oldest first. */
  findStories(storyDir: string): string[] {
    if (!existsSync(storyDir)) return [];
    const out: Array<{ file: string; mtime: number }> = [];
    for (const rel of readdirSync(storyDir, { recursive: true, encoding: "utf8" })) {
      if (!rel.endsWith(".json")) continue;
      const file = path.join(storyDir, rel);
      const read = readRegularFile(file);
      if (read.kind === "absent") continue;
      const mtime = lstatSync(file).mtimeMs;
      let doc: unknown;
      try {
        if (read.kind === "refused") throw new Error(read.why);
        doc = JSON.parse(read.text);
      } catch {
        // A truncated (or unreadable) run story still has to surface: keep it so parse() reports it.
        if (path.basename(file).startsWith("run_")) out.push({ file, mtime });
        continue;
      }
      if (looksLikeRunStory(doc)) out.push({ file, mtime });
    }
    return out.sort((a, b) => a.mtime - b.mtime || a.file.localeCompare(b.file)).map((o) => o.file);
  }

  getFailures(story: ParsedStory): NodeFailure[] {
    return story.nodes
      .filter((n) => n.status === "failed")
      .map((n) => ({
        pipeline: story.pipeline,
        runId: story.runId,
        node: n.name,
        operation: n.operation,
        errorType: n.cause?.type ?? n.errorType ?? "UnknownError",
        message: n.cause?.message ?? n.errorMessage ?? "(odibi recorded no error message)",
        traceback: n.traceback,
        storyFile: story.file,
      }));
  }

  /** Node success percentage (0–100), from the nodes themselves; odibi's own figure when it lists none. */
  getSuccessRate(story: ParsedStory): number {
    if (story.nodes.length === 0) return story.successRate;
    const ok = story.nodes.filter((n) => n.status === "success").length;
    return (ok / story.nodes.length) * 100;
  }
}
