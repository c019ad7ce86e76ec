import { needsInstall } from "../analysis/normalize.js";
import { readUsageAnalysis } from "../analysis/report.js";
import type { FailureCluster, TransformerSuggestion, UsageAnalysis } from "../analysis/usage-types.js";
import type { Task } from "../core/types.js";

/**
 * Gap detection (roadmap E5.2) as campaign work, from the last `odibi-improve analyze` (reports/usage_analysis.json):
 * each failure cluster is a fix task (kind `usage`), most frequent first; with `policy.allow_new_features: true` a
 * recurring chain of transformers is a new-feature task (kind `feature`). Pure but for `usageFacts`, which reads
 * the report. SQL steps that re-implement a transformer are only reported: their fix is in the user's pipelines.
 */

/** What planning needs of the last analysis under a reports folder. */
export function usageFacts(
  reportsDir: string,
  allowNewFeatures: boolean,
): { usage?: UsageAnalysis; allowNewFeatures: boolean } {
  const usage = readUsageAnalysis(reportsDir);
  return { ...(usage ? { usage } : {}), allowNewFeatures };
}

const MAX_DETAIL = 8000;

/**
 * Where in odibi a cluster's traceback failed: the innermost frame in `odibi/transformers/` or `odibi/patterns/`,
 * else the innermost frame in `odibi/`, as a repository path (`odibi/transformers/sql_core.py`) and line.
 */
export function odibiFrame(traceback: string | undefined): { file: string; line: number } | undefined {
  const frames = [...(traceback ?? "").matchAll(/File "[^"]*?[/\\](odibi[/\\][^"]+\.py)", line (\d+)/g)].map(
    (m) => ({
      file: m[1]!.replace(/\\/g, "/"),
      line: Number(m[2]),
    }),
  );
  return frames.findLast((f) => /^odibi\/(?:transformers|patterns)\//.test(f.file)) ?? frames.at(-1);
}

export function usageFailureTask(c: FailureCluster): Task {
  const at = odibiFrame(c.traceback);
  const detail = [
    `${c.count} node(s) in ${c.stories} odibi run(s) failed with ${c.errorType}: ${c.message}`,
    `(paths, quoted names and numbers masked; first seen ${c.firstSeen ?? "?"}, last seen ${c.lastSeen ?? "?"})`,
    `Nodes: ${c.nodes.join(", ")}`,
    c.transformers.length ? `Transformers involved: ${c.transformers.join(", ")}` : "",
    `One of them (${c.example.pipeline}/${c.example.node}, story ${c.example.file}):\n${c.example.message}`,
    c.traceback ? `Traceback:\n${c.traceback}` : "",
    "Fix the cause in odibi so these runs no longer fail (or fail with a message that says what to change), with a test that reproduces the failure.",
  ]
    .filter(Boolean)
    .join("\n\n");
  return {
    kind: "usage",
    target: c.signature,
    title: `usage failure (${c.count}× in ${c.stories} run(s)) ${c.errorType}: ${c.message.slice(0, 120)}`,
    signature: c.signature,
    ...(at ? { file: at.file, line: at.line } : {}),
    detail: detail.slice(0, MAX_DETAIL),
  };
}

/** The prompt of a new-feature task: propose, write the tests first, implement, and pass every gate. */
export function featureTask(s: TransformerSuggestion): Task {
  const chain = (s.sequence ?? []).join(" → ");
  const detail = [
    `Users chain ${chain} again and again. Evidence from their run stories:`,
    s.evidence.map((e) => `- ${e}`).join("\n"),
    [
      "Add ONE new transformer that does this chain in one step (allow_new_features is on):",
      "1. Propose it: its name, its parameters (the union the chain's steps need), and what it returns.",
      "2. Write its tests first, next to the tests of the transformers it replaces, on the same data the chain gets.",
      "3. Implement it in odibi/transformers/ and register it as the others are, for every engine they support.",
      "4. Leave the existing transformers unchanged.",
      "The candidate is promoted only if every gate passes: lint, tests (yours included), odibi validate, the golden projects and the harnesses.",
    ].join("\n"),
  ].join("\n\n");
  return {
    kind: "feature",
    target: s.signature,
    title: `new transformer: ${s.title}`,
    signature: s.signature,
    detail: detail.slice(0, MAX_DETAIL),
  };
}

/** The analysis' work: fix tasks (most frequent cluster first), then new-feature tasks when they are allowed. */
export function usageTasks(
  a: UsageAnalysis | undefined,
  allowNewFeatures: boolean,
): { fixes: Task[]; features: Task[] } {
  if (!a) return { fixes: [], features: [] };
  const fixes = [...a.failures]
    .filter((c) => !needsInstall(c))
    .sort((x, y) => y.count - x.count)
    .map(usageFailureTask);
  const features = allowNewFeatures ? a.suggestions.filter((s) => s.kind === "chain").map(featureTask) : [];
  return { fixes, features };
}
