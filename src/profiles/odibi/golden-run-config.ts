import { existsSync } from "node:fs";
import path from "node:path";
import { isMap, isSeq, parseDocument } from "yaml";
import { OdibiImproveError } from "../../core/errors.js";

export class GoldenConfigError extends OdibiImproveError {}

export interface GoldenRunPlan {
  /** The config to write into the run folder. */
  text: string;
  /** Pipelines the config declares, in order. */
  pipelines: string[];
  /** Connections pointed back at the golden project's own (read-only) folders. */
  inputs: Record<string, string>;
  /** Where odibi will write the stories, relative to the run folder (or absolute). */
  storyDir: string;
}

function asString(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/**
 * Plan a golden run (pure apart from checking which folders exist): `odibi run` changes into its config's
 * folder and resolves every local `base_path` from there, so the config is copied into a per-cycle run folder and:
 * - each local connection whose folder exists in the golden project (its sample data) gets that absolute path:
 *   inputs are read where they are, never copied or written;
 * - every other local connection stays relative, so outputs, stories and odibi's system catalog land in the run
 *   folder.
 */
export function planGoldenRun(
  configText: string,
  projectDir: string,
  configFile = "odibi.yaml",
): GoldenRunPlan {
  const doc = parseDocument(configText);
  if (doc.errors.length > 0)
    throw new GoldenConfigError(`${configFile}: invalid YAML: ${doc.errors[0]!.message}`, {
      hint: "Fix the golden project's config (or reinstall the golden projects).",
    });
  if (!isMap(doc.contents)) throw new GoldenConfigError(`${configFile}: not a YAML mapping`);

  const inputs: Record<string, string> = {};
  const basePaths: Record<string, string> = {};
  const connections = doc.get("connections");
  if (isMap(connections)) {
    for (const item of connections.items) {
      const name = String((item.key as { value?: unknown })?.value ?? item.key);
      const conn = item.value;
      if (!isMap(conn)) continue;
      const type = asString(conn.get("type"));
      const base = asString(conn.get("base_path"));
      if (type !== "local" || !base) continue;
      basePaths[name] = base;
      if (path.isAbsolute(base)) continue;
      const inProject = path.resolve(projectDir, base);
      if (existsSync(inProject)) {
        conn.set("base_path", inProject);
        inputs[name] = inProject;
        basePaths[name] = inProject;
      }
    }
  }

  const pipelines: string[] = [];
  const ps = doc.get("pipelines");
  if (isSeq(ps))
    for (const p of ps.items) {
      const name = isMap(p) ? asString(p.get("pipeline")) : undefined;
      if (name) pipelines.push(name);
    }

  const story = doc.get("story");
  const storyConn = isMap(story) ? asString(story.get("connection")) : undefined;
  const storyPath = (isMap(story) ? asString(story.get("path")) : undefined) ?? "stories";
  const storyBase = storyConn ? (basePaths[storyConn] ?? ".") : ".";
  return {
    text: doc.toString({ lineWidth: 0 }),
    pipelines,
    inputs,
    storyDir: path.join(storyBase, storyPath),
  };
}
