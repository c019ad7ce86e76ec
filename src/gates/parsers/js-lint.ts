import { z } from "zod";
import type { Check } from "../../core/types.js";
import { capMessage, type ParseContext, relPath } from "./common.js";

const BiomeReport = z.object({
  diagnostics: z.array(
    z.object({
      severity: z.string(),
      message: z.string(),
      category: z.string().optional(),
      location: z
        .object({
          path: z.union([z.string(), z.object({ file: z.string() })]).optional(),
          start: z.object({ line: z.number(), column: z.number() }).optional(),
        })
        .optional(),
    }),
  ),
});

/**
 * `biome lint|check --reporter=json`: every error and warning is a failing check (`lint/…` category as the rule);
 * infos are ignored. Format diagnostics (`format`) count too: `biome check` fails on them.
 */
export function parseBiomeJson(text: string, ctx: ParseContext): Check[] {
  const report = BiomeReport.parse(JSON.parse(text));
  return report.diagnostics
    .filter((d) => d.severity === "error" || d.severity === "warning" || d.severity === "fatal")
    .map((d) => {
      const p = d.location?.path;
      const file = p === undefined ? undefined : relPath(typeof p === "string" ? p : p.file, ctx.workdir);
      const line = d.location?.start?.line;
      const column = d.location?.start?.column;
      const rule = d.category ?? "biome";
      return {
        gate: ctx.gate,
        id: `${rule}:${file ?? ""}:${line ?? 0}:${column ?? 0}`,
        status: "fail",
        errorType: rule,
        message: capMessage(d.message),
        file,
        line,
        column,
      } satisfies Check;
    });
}

const EslintReport = z.array(
  z.object({
    filePath: z.string(),
    messages: z.array(
      z.object({
        ruleId: z.string().nullable(),
        severity: z.number(),
        message: z.string(),
        line: z.number().optional(),
        column: z.number().optional(),
        fatal: z.boolean().optional(),
      }),
    ),
  }),
);

/** `eslint -f json`: severity 2 (error) and 1 (warning) are failing checks; a parse error (fatal) has no rule. */
export function parseEslintJson(text: string, ctx: ParseContext): Check[] {
  const files = EslintReport.parse(JSON.parse(text));
  const checks: Check[] = [];
  for (const f of files) {
    const file = relPath(f.filePath, ctx.workdir);
    for (const m of f.messages) {
      if (m.severity < 1) continue;
      const rule = m.ruleId ?? (m.fatal ? "parse-error" : "eslint");
      checks.push({
        gate: ctx.gate,
        id: `${rule}:${file}:${m.line ?? 0}:${m.column ?? 0}`,
        status: "fail",
        errorType: rule,
        message: capMessage(m.message),
        file,
        line: m.line,
        column: m.column,
      });
    }
  }
  return checks;
}
