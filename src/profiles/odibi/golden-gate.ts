import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { errorMessage } from "../../core/errors.js";
import type { Check, GateRun } from "../../core/types.js";
import { folderInside, removeInside, restoreInside } from "../../environment/fs-safe.js";
import { compareFingerprints, takeFingerprint } from "../../environment/sacred.js";
import { describeEnd, type RunResult } from "../../exec/run-process.js";
import type { Gate, GateContext, GateRunOptions } from "../../gates/gate.js";
import { type ParsedStory, StoryParser } from "../../stories/story-parser.js";
import { expandCommand, runLogExcerpt } from "./command.js";
import { gateRunEnv } from "./gate-env.js";
import { type GoldenProject, listGoldenProjects, odibiGateFingerprint } from "./golden-projects.js";
import { planGoldenRun } from "./golden-run-config.js";

/**
 * Check ids (stable across cycles, for the baseline):
 * - `golden:<project>`                   the `odibi run` itself (exit code, timeout, crash before any story)
 * - `golden:<project>/<pipeline>`        a pipeline: its story exists and records no failed node
 * - `golden:<project>/<pipeline>/<node>` a node: pass | fail (odibi's error + traceback) | skip
 * - `golden:<project>#inputs`            only when a run changed the golden project's files (always a failure)
 * Pipeline names are part of node ids because one project may reuse a node name across pipelines
 * (star-schema's `dim_customer` is built in one and read in the other).
 */
export const GOLDEN_GATE = "golden";

export interface GoldenProjectRun {
  project: GoldenProject;
  runDir: string;
  result?: RunResult;
  stories: ParsedStory[];
  checks: Check[];
}

function nodeCheck(
  project: string,
  story: ParsedStory,
  node: ParsedStory["nodes"][number],
  config: string,
): Check {
  const id = `golden:${project}/${story.pipeline}/${node.name}`;
  const base = { gate: GOLDEN_GATE, id, file: config, durationMs: node.durationMs };
  if (node.status === "success") return { ...base, status: "pass" };
  if (node.status === "skipped") return { ...base, status: "skip", message: "skipped by odibi" };
  const errorType = node.cause?.type ?? node.errorType ?? "UnknownError";
  const message = node.cause?.message ?? node.errorMessage ?? `node ended with status ${node.status}`;
  return {
    ...base,
    status: "fail",
    errorType,
    message: `${errorType}: ${message}`,
    // odibi's own words first (the columns it had, its suggestions), then the Python traceback.
    detail: [node.errorMessage, node.traceback, `story: ${story.file}`].filter(Boolean).join("\n\n"),
  };
}

/**
 * Why odibi wrote no story, when it says so in its log: its "Story generation failed" warning, followed by the
 * traceback (rich wraps the log's lines at the terminal's width; the traceback's lines are unwrapped here).
 */
export function storyFailure(
  output: string,
): { errorType: string; message: string; detail: string } | undefined {
  const lines = stripVTControlCharacters(output).replace(/\r\n/g, "\n").split("\n");
  const at = lines.findIndex((l) => /Story generation failed/.test(l));
  if (at < 0) return undefined;
  const block: string[] = [];
  for (const line of lines.slice(at, at + 200)) {
    if (block.length > 0 && /^\S|\(timestamp=/.test(line)) break;
    block.push(line.trim());
  }
  const last = block.findLast((l) => /^[A-Za-z_.]*(Error|Exception)\b.*:/.test(l));
  const [errorType, ...rest] = (last ?? "StoryGenerationFailed: see the run log").split(":");
  return {
    errorType: errorType!.split(".").pop()!,
    message: `${errorType!.split(".").pop()}:${rest.join(":")}`,
    detail: block.join("\n").slice(0, 4000),
  };
}

function pipelineCheck(
  project: string,
  pipeline: string,
  story: ParsedStory | undefined,
  config: string,
  output: string,
): Check {
  const id = `golden:${project}/${pipeline}`;
  if (!story) {
    const why = storyFailure(output);
    return {
      gate: GOLDEN_GATE,
      id,
      file: config,
      status: "fail",
      errorType: "MissingStory",
      message: why
        ? `pipeline ${pipeline} wrote no story: odibi's story generation failed: ${why.message}`
        : `pipeline ${pipeline} wrote no story (it did not run, or odibi crashed before writing it)`,
      ...(why ? { detail: why.detail } : {}),
    };
  }
  const failed = story.nodes.filter((n) => n.status === "failed").map((n) => n.name);
  return {
    gate: GOLDEN_GATE,
    id,
    file: config,
    durationMs: story.durationMs,
    status: failed.length === 0 && story.failedNodes === 0 ? "pass" : "fail",
    message:
      failed.length === 0 && story.failedNodes === 0
        ? `${story.completedNodes}/${story.totalNodes} nodes, ${story.rowsProcessed} rows`
        : `${story.failedNodes} of ${story.totalNodes} nodes failed: ${failed.join(", ")}`,
    errorType: failed.length > 0 ? "PipelineFailed" : undefined,
  };
}

/** Run one golden project in `<outputDir>/golden/<name>/` and turn its stories into checks. */
export async function runGoldenProject(ctx: GateContext, project: GoldenProject): Promise<GoldenProjectRun> {
  const runDir = path.join(ctx.outputDir, "golden", project.name);
  // The output folder is writable by the jailed code of earlier runs: nothing here follows a link it planted.
  removeInside(ctx.outputDir, runDir);
  folderInside(ctx.outputDir, runDir);
  const checks: Check[] = [];
  const projectCheck: Check = {
    gate: GOLDEN_GATE,
    id: `golden:${project.name}`,
    status: "pass",
    file: project.config,
  };
  checks.push(projectCheck);

  let plan: ReturnType<typeof planGoldenRun>;
  try {
    plan = planGoldenRun(readFileSync(project.config, "utf8"), project.dir, project.config);
  } catch (e) {
    Object.assign(projectCheck, { status: "fail", errorType: "GoldenConfigError", message: errorMessage(e) });
    return { project, runDir, stories: [], checks };
  }
  const runConfig = path.join(runDir, path.basename(project.config));
  writeFileSync(runConfig, plan.text);
  const before = takeFingerprint(project.dir);

  const { file, args } = expandCommand(
    ctx.commands.run ?? "python -m odibi run {config}",
    "config",
    runConfig,
  );
  ctx.log?.(`golden ${project.name}: ${[file, ...args].join(" ")}`);
  const result = await ctx.workspace.exec(file, args, {
    cwd: runDir,
    env: gateRunEnv(ctx, path.join(ctx.outputDir, "env")),
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
  });
  restoreInside(
    ctx.outputDir,
    path.join(runDir, "run.log"),
    `$ ${[file, ...args].join(" ")}\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
  );
  projectCheck.durationMs = result.durationMs;
  if (result.exitCode !== 0) {
    Object.assign(projectCheck, {
      status: "fail",
      errorType: result.timedOut ? "GateTimeout" : result.spawnError ? "SpawnError" : "OdibiRunFailed",
      message: `odibi run: ${describeEnd(result)}`,
      detail: runLogExcerpt(`${result.stdout}\n${result.stderr}`),
    });
  } else projectCheck.message = "odibi run: exit 0";

  const parser = new StoryParser();
  const stories: ParsedStory[] = [];
  for (const f of parser.findStories(path.resolve(runDir, plan.storyDir))) {
    try {
      stories.push(parser.parse(f));
    } catch (e) {
      checks.push({
        gate: GOLDEN_GATE,
        id: `golden:${project.name}/${path.basename(f)}`,
        status: "fail",
        errorType: "MalformedStory",
        message: errorMessage(e),
        file: f,
      });
    }
  }
  // Latest story per pipeline (the run folder is fresh, so normally exactly one).
  const byPipeline = new Map<string, ParsedStory>();
  for (const s of stories) byPipeline.set(s.pipeline, s);
  const pipelines = [...new Set([...plan.pipelines, ...byPipeline.keys()])];
  for (const p of pipelines) {
    const story = byPipeline.get(p);
    checks.push(pipelineCheck(project.name, p, story, project.config, `${result.stdout}\n${result.stderr}`));
    for (const node of story?.nodes ?? []) checks.push(nodeCheck(project.name, story!, node, project.config));
  }

  const after = takeFingerprint(project.dir);
  if (after.digest !== before.digest) {
    const d = compareFingerprints(before, after);
    const changed = [...d.added.map((f) => `+${f}`), ...d.removed.map((f) => `-${f}`), ...d.changed];
    checks.push({
      gate: GOLDEN_GATE,
      id: `golden:${project.name}#inputs`,
      status: "fail",
      errorType: "GoldenInputsChanged",
      message: `the run changed the golden project ${project.dir} (inputs must be read-only): ${changed.slice(0, 10).join(", ")}`,
    });
  }
  return { project, runDir, result, stories, checks };
}

function selected(projects: GoldenProject[], only: string[] | undefined): GoldenProject[] {
  if (!only?.length) return projects;
  // `only` holds check ids; run each project one of them belongs to.
  return projects.filter((p) =>
    only.some(
      (id) =>
        id === `golden:${p.name}` || id.startsWith(`golden:${p.name}/`) || id.startsWith(`golden:${p.name}#`),
    ),
  );
}

/** `odibi run` on each golden project; checks from the JSON stories (see the ids above). */
export const goldenGate: Gate = {
  name: GOLDEN_GATE,
  configKey: "require_golden_projects",
  requiredByDefault: true,
  // A golden run can fail for reasons outside the code (a slow disk past the timeout): failures are re-run.
  rerunnable: true,
  targeted: true,
  fingerprint: async (ctx) => odibiGateFingerprint(ctx, ctx.commands.run ?? "python -m odibi run {config}"),
  applies(ctx: GateContext): boolean {
    return listGoldenProjects(ctx.goldenDir).length > 0;
  },
  async run(ctx: GateContext, opts: GateRunOptions = {}): Promise<GateRun> {
    const started = performance.now();
    const checks: Check[] = [];
    const projects = selected(listGoldenProjects(ctx.goldenDir), opts.only);
    for (const project of projects) {
      if (ctx.signal?.aborted) break;
      checks.push(...(await runGoldenProject(ctx, project)).checks);
    }
    return {
      gate: GOLDEN_GATE,
      command: ctx.commands.run ?? "python -m odibi run {config}",
      checks,
      durationMs: Math.round(performance.now() - started),
    };
  },
};
