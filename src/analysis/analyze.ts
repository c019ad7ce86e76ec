import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { errorMessage } from "../core/errors.js";
import { layoutOf } from "../environment/layout.js";
import { readRegularFile } from "../exec/read-regular-file.js";
import { pythonConstantsAsNull, StoryParser } from "../stories/story-parser.js";
import { type AnalyzerOptions, UsageAnalyzer } from "./usage-analyzer.js";
import type { SkippedStory, UsageAnalysis } from "./usage-types.js";

/** A folder of stories, and whether only files under a `stories` folder in it count (the tool's own run folders). */
export interface StorySource {
  dir: string;
  underStoriesOnly?: boolean;
}

/**
 * Where an environment keeps stories: `<root>/stories` (the golden runs of every cycle and campaign) and
 * `<root>/.odibi-improve/harness-output` (the last `harness run`/`validate`, whose projects also hold their input
 * and system-catalog files: only files under a `stories` folder are read there).
 */
export function environmentStorySources(root: string): StorySource[] {
  const layout = layoutOf(root);
  return [
    { dir: layout.stories, underStoriesOnly: true },
    { dir: path.join(layout.state, "harness-output"), underStoriesOnly: true },
  ];
}

/** The `.json` files under a source, sorted by path. */
export function storyFiles(source: StorySource): string[] {
  if (!existsSync(source.dir)) return [];
  return readdirSync(source.dir, { recursive: true, encoding: "utf8" })
    .filter((rel) => rel.endsWith(".json"))
    .filter((rel) => {
      const dirs = rel.split(/[\\/]/).slice(0, -1);
      // Delta tables' commit logs are JSON lines, never stories.
      return !dirs.includes("_delta_log") && (!source.underStoriesOnly || dirs.includes("stories"));
    })
    .map((rel) => path.join(source.dir, rel))
    .sort();
}

/** A run story names its pipeline and run; odibi's lineage files (`nodes`, `edges`, `layers`) do not. */
function storyLike(doc: unknown): boolean {
  return typeof doc === "object" && doc !== null && ("pipeline_name" in doc || "run_id" in doc);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    try {
      return JSON.parse(pythonConstantsAsNull(text));
    } catch {
      throw new Error(`not valid JSON (${errorMessage(e)})`);
    }
  }
}

/**
 * Analyse every story under the sources, one file at a time (only the aggregates stay in memory). A malformed story
 * is named in `skipped` and the rest go on; other JSON files (odibi's lineage files) are counted, not read further.
 */
export function analyzeStories(sources: StorySource[], opts: AnalyzerOptions = {}): UsageAnalysis {
  const started = Date.now();
  const analyzer = new UsageAnalyzer(opts);
  const parser = new StoryParser();
  const skipped: SkippedStory[] = [];
  let otherFiles = 0;
  for (const source of sources) {
    for (const file of storyFiles(source)) {
      try {
        const read = readRegularFile(file);
        if (read.kind === "absent") continue;
        if (read.kind === "refused") throw new Error(read.why);
        const doc = parseJson(read.text);
        if (!storyLike(doc)) {
          otherFiles++;
          continue;
        }
        analyzer.add(parser.parseDocument(doc, file));
      } catch (e) {
        skipped.push({ file, problem: errorMessage(e).replace(`story ${file}: `, "") });
      }
    }
  }
  return {
    generatedAt: new Date().toISOString(),
    sources: sources.map((s) => s.dir),
    stories: analyzer.stories,
    nodes: analyzer.nodes,
    failedNodes: analyzer.failedNodes,
    otherFiles,
    skipped,
    operations: Object.fromEntries([...analyzer.operations.entries()].sort((a, b) => b[1] - a[1])),
    patterns: analyzer.findCommonPatterns(),
    failures: analyzer.findFailurePatterns(),
    suggestions: analyzer.suggestNewTransformers(),
    durationMs: Date.now() - started,
  };
}
