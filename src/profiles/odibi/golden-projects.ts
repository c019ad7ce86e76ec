import { createHash } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { isMap, parseDocument } from "yaml";
import { z } from "zod";
import { OdibiImproveError } from "../../core/errors.js";
import { removeRetrying, renameRetrying } from "../../core/fs-retry.js";
import { takeFingerprint } from "../../environment/sacred.js";
import { describeEnd, type RunOptions, type RunResult, runProcess } from "../../exec/run-process.js";
import { ODIBI_VERSION, venvBin } from "../../pyenv/python-env.js";
import { buildGateEnv } from "./gate-env.js";

/**
 * Golden projects: small, complete odibi projects (config + data) that `odibi run` must keep running. They are
 * built from odibi's own scaffold templates (`odibi init-pipeline --template <t>`, which ships sample CSVs) and
 * live in `<root>/golden/<name>/`, outside every repository copy (odibi git-ignores `.odibi/`), read-only.
 */

/** The templates odibi 3.15.1's `init-pipeline` offers (all three, each with its own sample_data). */
export const GOLDEN_TEMPLATES = ["hello", "scd2", "star-schema"] as const;
export type GoldenTemplate = (typeof GOLDEN_TEMPLATES)[number];

export const GOLDEN_MANIFEST = "golden.json";

export const GoldenManifestSchema = z.looseObject({
  name: z.string().min(1),
  /** The project's config, relative to its folder. */
  config: z.string().min(1).default("odibi.yaml"),
  template: z.string().optional(),
  odibiVersion: z.string().optional(),
  installedAt: z.string().optional(),
});
export type GoldenManifest = z.output<typeof GoldenManifestSchema>;

export interface GoldenProject {
  name: string;
  dir: string;
  /** Absolute path of the project's odibi config. */
  config: string;
  manifest?: GoldenManifest;
}

export type InstallRunner = (file: string, args: readonly string[], opts: RunOptions) => Promise<RunResult>;

export interface InstallGoldenOptions {
  templates?: readonly GoldenTemplate[];
  /** Replace projects that are already installed (default: keep them). */
  force?: boolean;
  run?: InstallRunner;
  timeoutMs?: number;
  /**
   * The odibi whose templates are used: PYTHONPATH entries (the repository's import root, then its installed
   * dependencies) and its version. Without it, the venv's installed odibi scaffolds.
   */
  odibi?: { pythonPath: string[]; version: string };
}

export class GoldenInstallError extends OdibiImproveError {}

/**
 * Make a template's config hermetic and quiet for a gate:
 * - `engine: pandas` spelled out (it is odibi's default; a changed default must not switch engines under us).
 * - `system.async_derived_updates: false`: with the default (true) odibi 3.15.1 leaves a daemon thread writing
 *   Delta tables at interpreter exit, and the process dies with SIGABRT ("FATAL: exception not rethrown", exit 134)
 *   after a successful run (seen with the scd2 and star-schema templates). Synchronous updates exit 0.
 */
export function hermeticGoldenConfig(text: string, header: string): string {
  const doc = parseDocument(text);
  if (!isMap(doc.contents)) throw new GoldenInstallError(`golden config is not a YAML mapping`);
  if (!doc.has("engine")) doc.set("engine", "pandas");
  if (isMap(doc.get("system"))) doc.setIn(["system", "async_derived_updates"], false);
  doc.commentBefore = [header, doc.commentBefore].filter(Boolean).join("\n");
  return doc.toString({ lineWidth: 0 });
}

function setFileModes(dir: string, mode: number): void {
  for (const rel of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const p = path.join(dir, rel);
    if (statSync(p).isFile()) chmodSync(p, mode);
  }
}

async function scaffold(
  template: GoldenTemplate,
  staging: string,
  venv: string,
  run: InstallRunner,
  timeoutMs: number,
  pythonPath?: string[],
): Promise<string> {
  const out = path.join(staging, `scaffold-${template}`);
  // The repository's odibi scaffolds when given (Master's own templates), else the venv's; HOME/tmp in staging.
  const env = buildGateEnv(staging, venv, { outputDir: path.join(staging, "env") });
  if (pythonPath?.length) env.PYTHONPATH = pythonPath.join(path.delimiter);
  else delete env.PYTHONPATH;
  const r = await run(
    venvBin(venv, "python"),
    ["-m", "odibi", "init-pipeline", out, "--template", template],
    {
      cwd: staging,
      env,
      timeoutMs,
    },
  );
  if (r.exitCode !== 0 || !existsSync(path.join(out, "odibi.yaml")))
    throw new GoldenInstallError(
      `odibi init-pipeline --template ${template} failed (${describeEnd(r)})\n${(r.stderr || r.stdout).slice(-3000)}`,
      { hint: "Check that odibi is installed in the venv (`odibi-improve setup --odibi`)." },
    );
  return out;
}

/** Whether an installed golden project stays: it does unless it was built from another odibi version (said). */
function keepInstalled(
  dest: string,
  template: string,
  version: string,
  log: (line: string) => void,
): boolean {
  const file = path.join(dest, GOLDEN_MANIFEST);
  if (!existsSync(file)) return false;
  let built: string | undefined;
  try {
    built = (JSON.parse(readFileSync(file, "utf8")) as { odibiVersion?: string }).odibiVersion;
  } catch {
    built = undefined;
  }
  if (built === undefined || built === version) {
    log(`golden project ${template}: already installed`);
    return true;
  }
  log(
    `golden project ${template}: built from odibi ${built}'s template, the repository is odibi ${version}: rebuilding`,
  );
  return false;
}

/**
 * Build the golden projects into `<goldenDir>/<template>/`: `odibi.yaml` (made hermetic) + `sample_data/` +
 * `golden.json`, files read-only. Idempotent: installed projects are kept unless `force`. Returns every golden
 * project now in `goldenDir` (installed here or before).
 */
export async function installGoldenProjects(
  goldenDir: string,
  venv: string,
  log: (line: string) => void = () => {},
  opts: InstallGoldenOptions = {},
): Promise<GoldenProject[]> {
  const run = opts.run ?? runProcess;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  mkdirSync(goldenDir, { recursive: true });
  const staging = path.join(goldenDir, `.staging-${process.pid}`);
  removeRetrying(staging);
  mkdirSync(staging, { recursive: true });
  try {
    const version = opts.odibi?.version ?? ODIBI_VERSION;
    for (const template of opts.templates ?? GOLDEN_TEMPLATES) {
      const dest = path.join(goldenDir, template);
      if (!opts.force && keepInstalled(dest, template, version, log)) continue;
      log(`golden project ${template}: scaffolding from odibi ${version}'s template`);
      const scaffolded = await scaffold(template, staging, venv, run, timeoutMs, opts.odibi?.pythonPath);
      const built = path.join(staging, template);
      mkdirSync(built, { recursive: true });
      const header = `Golden project "${template}", built by odibi-improve from odibi ${version}'s \`init-pipeline --template ${template}\`. Read-only: gate runs copy this config into their own output folder.`;
      writeFileSync(
        path.join(built, "odibi.yaml"),
        hermeticGoldenConfig(readFileSync(path.join(scaffolded, "odibi.yaml"), "utf8"), header),
      );
      // Only what a run reads: the config and its data. CI files, Dockerfile, MCP config stay behind.
      if (existsSync(path.join(scaffolded, "sample_data")))
        cpSync(path.join(scaffolded, "sample_data"), path.join(built, "sample_data"), { recursive: true });
      const manifest: GoldenManifest = {
        name: template,
        config: "odibi.yaml",
        template,
        odibiVersion: version,
        installedAt: new Date().toISOString(),
      };
      writeFileSync(path.join(built, GOLDEN_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
      setFileModes(built, 0o444);
      if (existsSync(dest)) {
        // Windows refuses to delete read-only files.
        setFileModes(dest, 0o644);
        removeRetrying(dest);
      }
      renameRetrying(built, dest);
      log(`golden project ${template}: installed at ${dest}`);
    }
  } finally {
    removeRetrying(staging);
  }
  return listGoldenProjects(goldenDir);
}

/**
 * The golden projects in a folder: each sub-folder with a `golden.json` (its `config`) or, without one, an
 * `odibi.yaml`. Hidden folders (staging) are skipped. Sorted by name.
 */
export function listGoldenProjects(goldenDir: string): GoldenProject[] {
  if (!existsSync(goldenDir)) return [];
  const out: GoldenProject[] = [];
  for (const name of readdirSync(goldenDir).sort()) {
    if (name.startsWith(".")) continue;
    const dir = path.join(goldenDir, name);
    if (!statSync(dir).isDirectory()) continue;
    const manifestFile = path.join(dir, GOLDEN_MANIFEST);
    if (existsSync(manifestFile)) {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(manifestFile, "utf8"));
      } catch (e) {
        throw new GoldenInstallError(
          `${manifestFile} is not valid JSON: ${e instanceof Error ? e.message : e}`,
          {
            hint: "Reinstall the golden projects (`odibi-improve init --force`) or fix the file.",
          },
        );
      }
      const m = GoldenManifestSchema.safeParse(raw);
      if (!m.success)
        throw new GoldenInstallError(`${manifestFile}: ${z.prettifyError(m.error)}`, {
          hint: 'A golden manifest needs at least {"name": "...", "config": "odibi.yaml"}.',
        });
      out.push({ name, dir, config: path.join(dir, m.data.config), manifest: m.data });
    } else if (existsSync(path.join(dir, "odibi.yaml"))) {
      out.push({ name, dir, config: path.join(dir, "odibi.yaml") });
    }
  }
  return out;
}

/**
 * What besides the tree decides a validate/golden result, for the gate cache key: the command, the golden
 * projects' files (configs and data) and the venv's Python and packages (pyvenv.cfg + the setup marker).
 */
export function odibiGateFingerprint(
  ctx: { goldenDir: string; env: Record<string, string> },
  command: string,
): string {
  const hash = createHash("sha256").update(command);
  // Everything under golden/ but the harnesses (`odibi-improve harness`): a harness run or a new harness must not
  // make the golden projects' cached results stale.
  if (!existsSync(ctx.goldenDir)) hash.update("no-golden");
  else
    for (const [p, e] of Object.entries(takeFingerprint(ctx.goldenDir).entries))
      if (p !== "harness" && !p.startsWith("harness/")) hash.update(`${p}\0${JSON.stringify(e)}\0`);
  const venv = ctx.env.VIRTUAL_ENV;
  for (const f of venv ? [path.join(venv, "pyvenv.cfg"), path.join(venv, ".odibi-improve.json")] : [])
    hash.update(existsSync(f) ? readFileSync(f) : "-");
  return hash.digest("hex");
}
