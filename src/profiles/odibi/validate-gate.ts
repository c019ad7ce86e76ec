import path from "node:path";
import { z } from "zod";
import type { Check, GateRun } from "../../core/types.js";
import { folderInside } from "../../environment/fs-safe.js";
import { describeEnd, type RunResult } from "../../exec/run-process.js";
import type { Gate, GateContext, GateRunOptions } from "../../gates/gate.js";
import { expandCommand, tail } from "./command.js";
import { gateRunEnv } from "./gate-env.js";
import { type GoldenProject, listGoldenProjects, odibiGateFingerprint } from "./golden-projects.js";

/**
 * `odibi validate --format json <config>` on each golden/harness config. Check ids:
 * - `validate:<project>`                        the config as a whole (pass, or fail with the error count)
 * - `validate:<project>:<code>:<field_path>`    one per error odibi reports (code, field path, message, fix)
 */
export const VALIDATE_GATE = "validate";

const ValidationIssue = z.looseObject({
  code: z.string().default("UNKNOWN"),
  field_path: z.string().default("root"),
  message: z.string().default(""),
  fix: z.string().nullish(),
  source_path: z.string().nullish(),
  line: z.number().int().nullish(),
  column: z.number().int().nullish(),
});
const ValidationReport = z.looseObject({
  valid: z.boolean(),
  errors: z.array(ValidationIssue).default([]),
  warnings: z.array(z.unknown()).default([]),
  summary: z.string().optional(),
});
export type ValidationReport = z.output<typeof ValidationReport>;

/** The JSON report in odibi's stdout (log lines, if any, go before it), or undefined when there is none. */
export function parseValidateJson(stdout: string): ValidationReport | undefined {
  const start = stdout.search(/^\{/m);
  const end = stdout.lastIndexOf("}");
  if (start < 0 || end < start) return undefined;
  try {
    const r = ValidationReport.safeParse(JSON.parse(stdout.slice(start, end + 1)));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * odibi's human output, for a configured command without `--format json`:
 * `✓ odibi.yaml is valid` or `✗ odibi.yaml has errors:` followed by `  - <field>: <message>` lines.
 */
export function parseValidateText(output: string): ValidationReport | undefined {
  if (/^\s*✓ .* is valid\s*$/m.test(output)) return { valid: true, errors: [], warnings: [] };
  if (!/^\s*✗ .* has errors:/m.test(output)) return undefined;
  const errors = [...output.matchAll(/^\s+- ([^:\n]+): (.+)$/gm)].map((m) => ({
    code: "VALIDATION_ERROR",
    field_path: m[1]!.trim(),
    message: m[2]!.trim(),
  }));
  return { valid: false, errors, warnings: [] };
}

function withJsonFormat(line: string): string {
  return /\bvalidate\b/.test(line) && !/--format\b/.test(line) ? `${line} --format json` : line;
}

/** Turn one validate run into checks (pure). */
export function validateChecks(project: string, config: string, r: RunResult): Check[] {
  const id = `validate:${project}`;
  const report = parseValidateJson(r.stdout) ?? parseValidateText(`${r.stdout}\n${r.stderr}`);
  if (!report || r.timedOut || r.spawnError)
    return [
      {
        gate: VALIDATE_GATE,
        id,
        file: config,
        status: "fail",
        errorType: r.timedOut ? "GateTimeout" : "ValidatorCrashed",
        message: `odibi validate gave no report: ${describeEnd(r)}`,
        detail: tail(`${r.stderr}\n${r.stdout}`),
        durationMs: r.durationMs,
      },
    ];
  const ok = report.valid && report.errors.length === 0 && r.exitCode === 0;
  const checks: Check[] = [
    {
      gate: VALIDATE_GATE,
      id,
      file: config,
      status: ok ? "pass" : "fail",
      errorType: ok ? undefined : "InvalidConfig",
      message: ok
        ? `valid${report.warnings.length ? ` (${report.warnings.length} warning(s))` : ""}`
        : report.errors.length > 0
          ? `${report.errors.length} error(s): ${report.errors.map((e) => `${e.code} at ${e.field_path}`).join(", ")}`
          : `odibi validate said valid=${report.valid} but ended with ${describeEnd(r)}`,
      durationMs: r.durationMs,
    },
  ];
  for (const e of report.errors)
    checks.push({
      gate: VALIDATE_GATE,
      id: `${id}:${e.code}:${e.field_path}`,
      file: config,
      line: e.line ?? undefined,
      column: e.column ?? undefined,
      status: "fail",
      errorType: e.code,
      message: `${e.field_path}: ${e.message}`,
      detail: e.fix ? `fix: ${e.fix}` : undefined,
    });
  return checks;
}

export async function validateProject(ctx: GateContext, project: GoldenProject): Promise<Check[]> {
  const line = withJsonFormat(ctx.commands.validate ?? "python -m odibi validate {file}");
  const { file, args } = expandCommand(line, "file", project.config);
  // Run outside the golden folder: validate should not write, but if it ever does, not there.
  const cwd = path.join(ctx.outputDir, "validate", project.name);
  folderInside(ctx.outputDir, cwd); // never through a link planted by jailed code
  ctx.log?.(`validate ${project.name}: ${[file, ...args].join(" ")}`);
  const r = await ctx.workspace.exec(file, args, {
    cwd,
    env: gateRunEnv(ctx, path.join(ctx.outputDir, "env")),
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
  });
  return validateChecks(project.name, project.config, r);
}

export const validateGate: Gate = {
  name: VALIDATE_GATE,
  configKey: "require_odibi_validate",
  requiredByDefault: true,
  reportsFailuresOnly: true,
  rerunnable: false,
  targeted: true,
  fingerprint: async (ctx) =>
    odibiGateFingerprint(ctx, withJsonFormat(ctx.commands.validate ?? "python -m odibi validate {file}")),
  applies(ctx: GateContext): boolean {
    return listGoldenProjects(ctx.goldenDir).length > 0;
  },
  async run(ctx: GateContext, opts: GateRunOptions = {}): Promise<GateRun> {
    const started = performance.now();
    const checks: Check[] = [];
    let projects = listGoldenProjects(ctx.goldenDir);
    if (opts.only?.length)
      projects = projects.filter((p) =>
        opts.only!.some((id) => id === `validate:${p.name}` || id.startsWith(`validate:${p.name}:`)),
      );
    for (const p of projects) {
      if (ctx.signal?.aborted) break;
      checks.push(...(await validateProject(ctx, p)));
    }
    return {
      gate: VALIDATE_GATE,
      command: withJsonFormat(ctx.commands.validate ?? "python -m odibi validate {file}"),
      checks,
      durationMs: Math.round(performance.now() - started),
    };
  },
};
