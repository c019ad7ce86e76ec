import path from "node:path";
import type { Check, GateName } from "../../core/types.js";

/** Longest detail kept on a check (tracebacks, captured output): the tail, where the error is. */
export const MAX_DETAIL = 4000;
const MAX_MESSAGE = 500;

export interface ParseContext {
  gate: GateName;
  /** The tree the tool ran in: absolute paths in tool output are made relative to it. */
  workdir: string;
}

export function capDetail(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t.length === 0) return undefined;
  return t.length > MAX_DETAIL ? `…${t.slice(t.length - MAX_DETAIL)}` : t;
}

export function capMessage(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  return t.length > MAX_MESSAGE ? `${t.slice(0, MAX_MESSAGE)}…` : t;
}

/** A path as tools print it (absolute, `./x`, `file:///x`, Windows `\`) → relative to workdir with `/`. */
export function relPath(p: string, workdir: string): string {
  let f = p.startsWith("file://") ? decodeURIComponent(p.slice("file://".length)) : p;
  if (path.isAbsolute(f)) {
    const rel = path.relative(workdir, f);
    if (!rel.startsWith("..") && !path.isAbsolute(rel)) f = rel;
  }
  return f.replace(/\\/g, "/").replace(/^\.\//, "");
}

/** The tool ran but gave no usable result: a failing check, never a pass. */
export function crashCheck(ctx: ParseContext, tool: string, message: string, detail?: string): Check {
  return {
    gate: ctx.gate,
    id: `${tool}:crash`,
    status: "fail",
    errorType: "RunnerCrash",
    message: capMessage(message),
    detail: capDetail(detail),
  };
}

/**
 * The tool's channels disagree (exit code, report, terminal summary, separate collection), or its report is not a
 * plain file: the result cannot be trusted, so it is a failing check. Its own id, so a baseline crash never
 * tolerates it.
 */
export function inconsistentCheck(ctx: ParseContext, tool: string, message: string, detail?: string): Check {
  return {
    gate: ctx.gate,
    id: `${tool}:report-inconsistent`,
    status: "fail",
    errorType: "report-inconsistent",
    message: capMessage(message),
    detail: capDetail(detail),
  };
}

/** `path:line` or `path:line:col` in a line of text. */
export function parseLocation(text: string): { file: string; line: number; column?: number } | undefined {
  const m = /((?:(?<![A-Za-z])[A-Za-z]:(?=[\\/]))?[^\s:()'"]+):(\d+)(?::(\d+))?/.exec(text);
  if (!m) return undefined;
  return { file: m[1]!, line: Number(m[2]), column: m[3] === undefined ? undefined : Number(m[3]) };
}
