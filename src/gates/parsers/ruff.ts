import { stripVTControlCharacters } from "node:util";
import { z } from "zod";
import type { Check } from "../../core/types.js";
import { capMessage, type ParseContext, relPath } from "./common.js";

const RuffDiagnostic = z.object({
  code: z.string().nullable(),
  name: z.string().optional(),
  message: z.string(),
  filename: z.string(),
  location: z.object({ row: z.number(), column: z.number() }).nullable(),
  url: z.string().nullable().optional(),
  fix: z.object({ applicability: z.string().optional() }).loose().nullable().optional(),
});
const RuffOutput = z.array(RuffDiagnostic);

/**
 * `ruff check --output-format json`: one failing check per diagnostic, id `RULE:file:line:col`.
 * Syntax errors come as `invalid-syntax` (or a null code in older ruff): kept as failures under that rule.
 * Throws on output that is not ruff's JSON (the caller turns that into a crash check).
 */
export function parseRuffJson(text: string, ctx: ParseContext): Check[] {
  const diags = RuffOutput.parse(JSON.parse(text));
  return diags.map((d) => {
    const rule = d.code ?? d.name ?? "syntax-error";
    const file = relPath(d.filename, ctx.workdir);
    const line = d.location?.row;
    const column = d.location?.column;
    return {
      gate: ctx.gate,
      id: `${rule}:${file}:${line ?? 0}:${column ?? 0}`,
      status: "fail",
      errorType: rule,
      message: capMessage(d.message),
      file,
      line,
      column,
      // `ruff check --fix` applies only safe fixes.
      autofix: d.fix?.applicability === "safe",
    } satisfies Check;
  });
}

/**
 * `ruff format --check`: one failing check per file it would reformat (`Would reformat: <file>`), id
 * `format:<file>`, and per file it could not parse (`error: Failed to parse <file>:<line>:<col>: …`).
 */
export function parseRuffFormatCheck(text: string, ctx: ParseContext): Check[] {
  const out: Check[] = [];
  // ruff colours the file names even when not on a terminal (it reads FORCE_COLOR=0 as "force").
  for (const raw of stripVTControlCharacters(text).split(/\r?\n/)) {
    const line = raw.trim();
    const would = /^Would reformat: (.+)$/.exec(line);
    if (would) {
      const file = relPath(would[1]!, ctx.workdir);
      out.push({
        gate: ctx.gate,
        id: `format:${file}`,
        status: "fail",
        errorType: "format",
        message: `${file} is not formatted as \`ruff format\` would`,
        file,
        autofix: true,
      });
      continue;
    }
    const bad = /^error: Failed to parse (.+?):(\d+):(\d+): (.*)$/.exec(line);
    if (bad) {
      const file = relPath(bad[1]!, ctx.workdir);
      out.push({
        gate: ctx.gate,
        id: `format-parse:${file}`,
        status: "fail",
        errorType: "syntax-error",
        message: capMessage(`ruff format could not parse ${file}: ${bad[4]}`),
        file,
        line: Number(bad[2]),
        column: Number(bad[3]),
      });
    }
  }
  return out;
}

/** The count in ruff format's summary (`3 files would be reformatted, …`), undefined when it printed none. */
export function ruffFormatSummaryCount(coloured: string): number | undefined {
  const text = stripVTControlCharacters(coloured);
  const m = /^(\d+) files? would be reformatted\b/m.exec(text);
  if (m) return Number(m[1]);
  return /^\d+ files? already formatted\b/m.test(text) ? 0 : undefined;
}
