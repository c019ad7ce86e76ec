import { type ToolSet, tool } from "ai";
import { z } from "zod";
import { errorMessage } from "../core/errors.js";
import type { Check, GateResult } from "../core/types.js";
import { WorkspaceError } from "../workspace/errors.js";
import type { Workspace } from "../workspace/workspace.js";
import { createFile, listDir, replaceInFile, searchText, ToolUsageError, viewFile } from "./file-tools.js";
import { describeFailures, failingChecks } from "./prompts.js";

/** What a tool may return to the model, at most (a huge file or test log must not flood the context). */
export const MAX_TOOL_OUTPUT = 12_000;

export type GateScope = "targeted" | "full";

/** Failures not caused by the change listed by name, at most (the rest are counted). */
const MAX_APART = 20;

/** A gate result with the failing checks the model's change did not cause, each with why. */
export interface GatesReport extends GateResult {
  /** Failing checks (objects of `runs`) Master fails too, or that fail for want of a dependency: not the change's. */
  notCaused?: ReadonlyMap<Check, string>;
}

/**
 * Supplied by the campaign: run the gates on the sandbox. `targeted` runs only the target's check and the tests
 * touching the change, `full` runs everything the promotion decision uses.
 */
export type RunGates = (req: {
  scope: GateScope;
  only: string[];
  signal?: AbortSignal;
}) => Promise<GatesReport>;

const relPath = z.string().describe("Path relative to the sandbox root, e.g. src/pkg/module.py");

export const TOOL_INPUTS = {
  list_dir: z.object({
    path: relPath.optional().describe("Folder relative to the sandbox root; default the root"),
    depth: z.number().int().min(1).max(4).optional().describe("Levels to show, 1-4; default 1"),
  }),
  view_file: z.object({
    path: relPath,
    start_line: z.number().int().min(1).optional().describe("First line (1-based); default 1"),
    end_line: z.number().int().min(1).optional().describe("Last line; at most 200 lines are shown"),
  }),
  search_text: z.object({
    pattern: z.string().min(1).describe("Text to find (literal unless regex is true)"),
    path: relPath.optional().describe("File or folder to search; default the whole sandbox"),
    regex: z.boolean().optional().describe("Treat pattern as a JavaScript regular expression"),
  }),
  replace_in_file: z.object({
    path: relPath,
    old_text: z.string().describe("Exact text to replace, whitespace included; must occur exactly once"),
    new_text: z.string().describe("Replacement text"),
  }),
  create_file: z.object({ path: relPath, content: z.string() }),
  run_gates: z.object({
    scope: z
      .enum(["targeted", "full"])
      .optional()
      .describe(
        "targeted (default): the failing check and the tests touching your changes (fast); full: every gate, the whole suite",
      ),
  }),
  finish: z.object({
    summary: z.string().min(1).describe("What you changed and why, or why you could not fix it"),
  }),
};

export type ToolName = keyof typeof TOOL_INPUTS;

const DESCRIPTIONS: Record<ToolName, string> = {
  list_dir: "List files and folders in the sandbox.",
  view_file: "Show a window of a file with line numbers.",
  search_text: "Search files for text; returns file:line: line.",
  replace_in_file: "Replace one unique snippet of a file with new text.",
  create_file: "Create a new file (fails if it exists).",
  run_gates:
    "Run the gates (tests, lint, golden projects) on the sandbox and report failures; failures your change did not cause are listed apart.",
  finish:
    "End the attempt with a summary. All gates then judge the sandbox (your last full run is reused if nothing changed since).",
};

/** The tool set offered to the model. No `execute`: the brain runs calls itself (confined, capped, logged). */
export function brainToolSet(): ToolSet {
  const set: ToolSet = {};
  for (const name of Object.keys(TOOL_INPUTS) as ToolName[]) {
    set[name] = tool({
      description: DESCRIPTIONS[name],
      inputSchema: TOOL_INPUTS[name] as z.ZodType<Record<string, unknown>>,
    });
  }
  return set;
}

export function capOutput(s: string, max = MAX_TOOL_OUTPUT): string {
  return s.length > max ? `${s.slice(0, max)}\n… [${s.length - max} more characters cut: ask for less]` : s;
}

export interface ToolContext {
  /** The sandbox: every file tool goes through it and nothing else. */
  workspace: Workspace;
  runGates: (scope: GateScope) => Promise<GatesReport>;
  /** Checks a file (sandbox-relative) after an edit; its verdict is appended to the edit's result. Absent: no check. */
  checkSyntax?: (rel: string) => Promise<string | undefined>;
}

export interface ToolOutcome {
  output: string;
  isError: boolean;
  /** Set by `finish`. */
  finishSummary?: string;
  gateResult?: GateResult;
}

/** The edit's result with the syntax check of the file it wrote (the edit stays whatever the check says). */
async function withSyntaxCheck(ctx: ToolContext, p: string, result: string): Promise<string> {
  if (!ctx.checkSyntax) return capOutput(result);
  let verdict: string | undefined;
  try {
    verdict = await ctx.checkSyntax(ctx.workspace.resolve(p));
  } catch (err) {
    verdict = `syntax check not run: ${errorMessage(err)}`;
  }
  // The verdict after the cap: a long edit window must not cut it off.
  return verdict === undefined ? capOutput(result) : `${capOutput(result)}\n${verdict}`;
}

/**
 * What the model reads of a gate run: PASS or FAIL by the failures its change caused; the others (Master fails
 * them too, or a dependency is missing) are listed apart and never make it FAIL.
 */
export function describeGateResult(scope: GateScope, r: GatesReport): string {
  const apart = r.notCaused ?? new Map<Check, string>();
  const mine: GateResult = {
    ...r,
    runs: r.runs.map((x) => {
      const checks = x.checks.filter((c) => !apart.has(c));
      // A gate that could not run is the change's failure unless every failing check of it was judged apart.
      const error = checks.some((c) => c.status === "fail") ? x.error : undefined;
      return { ...x, checks, error };
    }),
  };
  const failing = failingChecks(mine).length + mine.runs.filter((x) => x.error).length;
  const ran =
    r.runs
      .map((x) => `${x.gate}${x.scope === "targeted" ? " targeted" : ""} (${x.checks.length} checks)`)
      .join(", ") || "no gate";
  // A check of both the cheap step and the full run is listed once.
  const notMine = [...new Set([...apart].map(([c, why]) => `- [${c.gate}] ${c.id}: ${why}`))];
  const more = notMine.length > MAX_APART ? `\n… and ${notMine.length - MAX_APART} more` : "";
  const apartText = notMine.length
    ? `\nFailing, but not caused by your change (${notMine.length}; leave them):\n${notMine.slice(0, MAX_APART).join("\n")}${more}`
    : "";
  return failing === 0
    ? `gates (${scope}): PASS — ran ${ran}${apartText}`
    : `gates (${scope}): FAIL — ran ${ran}\n${describeFailures(mine)}${apartText}`;
}

/** Run one (already validated) tool call. Refusals and usage errors become error outputs the model can act on. */
export async function executeTool(name: string, input: unknown, ctx: ToolContext): Promise<ToolOutcome> {
  const ws = ctx.workspace;
  try {
    switch (name as ToolName) {
      case "list_dir": {
        const a = input as z.infer<typeof TOOL_INPUTS.list_dir>;
        return { output: capOutput(listDir(ws, a.path ?? ".", a.depth ?? 1)), isError: false };
      }
      case "view_file": {
        const a = input as z.infer<typeof TOOL_INPUTS.view_file>;
        return { output: capOutput(viewFile(ws, a.path, a.start_line ?? 1, a.end_line)), isError: false };
      }
      case "search_text": {
        const a = input as z.infer<typeof TOOL_INPUTS.search_text>;
        return {
          output: capOutput(searchText(ws, a.pattern, a.path ?? ".", a.regex ?? false)),
          isError: false,
        };
      }
      case "replace_in_file": {
        const a = input as z.infer<typeof TOOL_INPUTS.replace_in_file>;
        const done = replaceInFile(ws, a.path, a.old_text, a.new_text);
        return { output: await withSyntaxCheck(ctx, a.path, done), isError: false };
      }
      case "create_file": {
        const a = input as z.infer<typeof TOOL_INPUTS.create_file>;
        const done = createFile(ws, a.path, a.content);
        return { output: await withSyntaxCheck(ctx, a.path, done), isError: false };
      }
      case "run_gates": {
        const scope = (input as z.infer<typeof TOOL_INPUTS.run_gates>).scope ?? "targeted";
        const r = await ctx.runGates(scope);
        return { output: capOutput(describeGateResult(scope, r)), isError: false, gateResult: r };
      }
      case "finish": {
        const summary = (input as z.infer<typeof TOOL_INPUTS.finish>).summary;
        return { output: "finished; the gates will now run", isError: false, finishSummary: summary };
      }
      default:
        return {
          output: `unknown tool "${name}". Available: ${Object.keys(TOOL_INPUTS).join(", ")}.`,
          isError: true,
        };
    }
  } catch (err) {
    if (err instanceof WorkspaceError || err instanceof ToolUsageError)
      return { output: err.message, isError: true };
    return { output: `${name} failed: ${errorMessage(err)}`, isError: true };
  }
}
