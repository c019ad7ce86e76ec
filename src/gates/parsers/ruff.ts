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
