import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { isMap, isSeq, parseDocument } from "yaml";
import { z } from "zod";
import type { Check } from "../core/types.js";
import type { GateContext } from "../gates/gate.js";
import { failureSignature } from "../memory/signature.js";
import { listGoldenProjects, runGoldenProject, validateProject } from "../profiles/odibi/index.js";
import { checkExpectations } from "./expect.js";
import { harnessDir, readHarnesses } from "./write.js";

/**
 * `harness run`: each harness through the golden gate's machinery (`odibi validate`, then `odibi run` in a fresh
 * run folder, jailed as the context is, its stories parsed), then its expected results checked from the written
 * output. Every failing check is a finding: odibi's error, the node, and the smallest config that shows it.
 */

export const FindingSchema = z.object({
  signature: z.string(),
  harness: z.string(),
  kind: z.string(),
  subject: z.string(),
  checkId: z.string(),
  node: z.string().optional(),
  errorType: z.string(),
  message: z.string(),
  detail: z.string().optional(),
  /** The harness's config cut down to the failing node and what it depends on. */
  config: z.string(),
  /** The harness's folder (config and input data). */
  dir: z.string(),
});
export type Finding = z.output<typeof FindingSchema>;

export const HarnessReportSchema = z.object({
  odibiVersion: z.string(),
  ranAt: z.string(),
  harnesses: z.array(
    z.object({
      name: z.string(),
      kind: z.string(),
      subject: z.string(),
      covers: z.array(z.string()),
      passed: z.boolean(),
    }),
  ),
  findings: z.array(FindingSchema),
});
export type HarnessReport = z.output<typeof HarnessReportSchema>;

export const FINDINGS_FILE = "findings.json";

/** `golden:<harness>/<pipeline>/<node>` or `harness:<harness>/<node>#expect` → the node. */
function nodeOf(c: Check): string | undefined {
  const m = c.id.match(/^golden:[^/]+\/[^/]+\/([^/#]+)$/) ?? c.id.match(/^harness:[^/]+\/([^#]+)#expect$/);
  return m?.[1];
}

/**
 * The smallest config that shows a node's failure: the pipelines up to the node's (earlier loads feed a target),
 * in its pipeline only the node and what it depends on.
 */
export function minimalConfig(configText: string, node: string | undefined): string {
  const doc = parseDocument(configText);
  const pipelines = doc.get("pipelines");
  if (!node || !isSeq(pipelines)) return configText;
  const at = pipelines.items.findIndex(
    (p) => isMap(p) && JSON.stringify(p.toJSON()).includes(`"name":"${node}"`),
  );
  if (at < 0) return configText;
  pipelines.items.splice(at + 1);
  const p = pipelines.items[at];
  const nodes = isMap(p) ? p.get("nodes") : undefined;
  if (isSeq(nodes)) {
    const byName = new Map(nodes.items.map((n) => [isMap(n) ? String(n.get("name")) : "", n]));
    const keep = new Set<string>();
    const visit = (name: string) => {
      const n = byName.get(name);
      if (!n || keep.has(name)) return;
      keep.add(name);
      const deps = isMap(n) ? n.get("depends_on") : undefined;
      if (isSeq(deps)) for (const d of deps.items) visit(String((d as { value?: unknown }).value ?? d));
    };
    visit(node);
    nodes.items = nodes.items.filter((n) => isMap(n) && keep.has(String(n.get("name"))));
  }
  return doc.toString({ lineWidth: 0 });
}

/**
 * The failing checks that are findings: a project's or pipeline's failure is left out when a node explains it, and
 * a node's wrong (or missing) output when the node itself failed.
 */
export function findingsOf(
  h: { name: string; kind: string; subject: string; dir: string; config: string },
  checks: Check[],
): Finding[] {
  const failing = checks.filter((c) => c.status === "fail");
  const failedNodes = new Set(failing.filter((c) => c.id.startsWith("golden:")).map(nodeOf));
  failedNodes.delete(undefined);
  const nodeFails = failedNodes.size > 0;
  return failing
    .filter((c) => !(c.id.endsWith("#expect") && failedNodes.has(nodeOf(c))))
    .filter((c) =>
      nodeFails ? nodeOf(c) !== undefined || c.gate === "validate" || c.id.includes("#inputs") : true,
    )
    .map((c) => {
      const node = nodeOf(c);
      return {
        signature: failureSignature({
          gate: c.gate,
          checkId: c.id,
          errorType: c.errorType,
          message: c.message,
        }),
        harness: h.name,
        kind: h.kind,
        subject: h.subject,
        checkId: c.id,
        ...(node ? { node } : {}),
        errorType: c.errorType ?? "Failure",
        message: c.message ?? "",
        ...(c.detail ? { detail: c.detail.slice(0, 4000) } : {}),
        config: minimalConfig(h.config, node),
        dir: h.dir,
      };
    });
}

export interface HarnessRunOptions {
  /** Harness names to run (default all). */
  only?: readonly string[];
  /** Skip `odibi run` (validate only). */
  validateOnly?: boolean;
  onHarness?: (name: string, checks: Check[]) => void;
}

/** Validate and run the harnesses in `<goldenDir>/harness/` with a gate context (its goldenDir is ignored). */
export async function runHarnesses(
  ctx: GateContext,
  goldenDir: string,
  odibiVersion: string,
  opts: HarnessRunOptions = {},
): Promise<HarnessReport & { checks: Check[] }> {
  const dir = harnessDir(goldenDir);
  const hctx: GateContext = { ...ctx, goldenDir: dir };
  const manifests = new Map(readHarnesses(goldenDir).map((h) => [h.name, h]));
  const projects = listGoldenProjects(dir).filter((p) => !opts.only?.length || opts.only.includes(p.name));
  const report: HarnessReport & { checks: Check[] } = {
    odibiVersion,
    ranAt: new Date().toISOString(),
    harnesses: [],
    findings: [],
    checks: [],
  };
  for (const p of projects) {
    if (ctx.signal?.aborted) break;
    const h = manifests.get(p.name);
    if (!h) continue;
    const checks = await validateProject(hctx, p);
    if (!opts.validateOnly && checks.every((c) => c.status !== "fail")) {
      const run = await runGoldenProject(hctx, p);
      checks.push(...run.checks);
      checks.push(...(await checkExpectations(hctx, p.name, run.runDir, h.expectations, p.config)));
    }
    opts.onHarness?.(p.name, checks);
    report.checks.push(...checks);
    const findings = findingsOf(h, checks);
    report.harnesses.push({
      name: h.name,
      kind: h.kind,
      subject: h.subject,
      covers: h.covers,
      passed: findings.length === 0,
    });
    report.findings.push(...findings);
  }
  return report;
}

/** Write the run's report (without its raw checks) next to the harnesses. */
export function writeHarnessReport(goldenDir: string, report: HarnessReport): string {
  const file = path.join(harnessDir(goldenDir), FINDINGS_FILE);
  const { odibiVersion, ranAt, harnesses, findings } = report;
  writeFileSync(file, `${JSON.stringify({ odibiVersion, ranAt, harnesses, findings }, null, 1)}\n`);
  return file;
}

/**
 * The harness coverage of the last run: odibi's transformers whose own harness passed (it ran and wrote what it
 * must), of all the transformers the introspection found. Null before any run.
 */
export function transformerCoverage(
  report: HarnessReport | undefined,
  transformers: number,
): { passed: number; total: number } | null {
  if (!report || transformers === 0) return null;
  const passed = report.harnesses.filter((h) => h.kind === "transformer" && h.passed).length;
  return { passed, total: transformers };
}

/**
 * A finding fixed by a promotion: taken out of the last run's report (its harness passes when none is left), so
 * the next cycle does not work on it again. The next `harness run` measures it anew.
 */
export function resolveFinding(goldenDir: string, checkId: string): void {
  const report = readHarnessReport(goldenDir);
  if (!report) return;
  const findings = report.findings.filter((f) => f.checkId !== checkId);
  const failing = new Set(findings.map((f) => f.harness));
  const harnesses = report.harnesses.map((h) => ({ ...h, passed: !failing.has(h.name) }));
  writeHarnessReport(goldenDir, { ...report, findings, harnesses });
}

/**
 * A run of some harnesses (`--only`) over the last report: theirs replaced, the others' results and findings kept
 * (the harness list in the previous report's order, new ones after).
 */
export function mergeHarnessReports(prev: HarnessReport | undefined, next: HarnessReport): HarnessReport {
  if (!prev) return next;
  const ran = new Set(next.harnesses.map((h) => h.name));
  const byName = new Map(next.harnesses.map((h) => [h.name, h]));
  const harnesses = [
    ...prev.harnesses.map((h) => byName.get(h.name) ?? h),
    ...next.harnesses.filter((h) => !prev.harnesses.some((p) => p.name === h.name)),
  ];
  const findings = [...prev.findings.filter((f) => !ran.has(f.harness)), ...next.findings];
  return { odibiVersion: next.odibiVersion, ranAt: next.ranAt, harnesses, findings };
}

/** The last run's report, if any. */
export function readHarnessReport(goldenDir: string): HarnessReport | undefined {
  const file = path.join(harnessDir(goldenDir), FINDINGS_FILE);
  if (!existsSync(file)) return undefined;
  const r = HarnessReportSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
  return r.success ? r.data : undefined;
}
