import { statSync } from "node:fs";
import path from "node:path";
import { MissingTool } from "../core/errors.js";
import { runProcess, splitCommandLine } from "../exec/run-process.js";
import type { ProfileCommands } from "../gates/gate.js";
import { adapterFor } from "../gates/tools.js";
import { venvBin, venvBinDir } from "../pyenv/python-env.js";

/**
 * A tool that cannot start is a fault of the environment, not of a candidate or an approach: the campaign stops
 * with MissingTool (what to install) instead of calling it a failing check, a rejected candidate or a failed fixer.
 * Asked before Master's gates and again before anything is learned from a candidate, so that a venv deleted
 * mid-run is never recorded as a failed approach.
 */

export interface ToolCheckInput {
  commands: ProfileCommands;
  /** The gates' environment (PATH with the venv first). */
  env: Record<string, string>;
  /** The gates' venv, when the profile's `python` must be that venv's (python, odibi). */
  venv?: string;
  /** A folder outside the tree under test to ask the tools their version in (a candidate's config cannot break it). */
  neutralDir: string;
}

const SETUP_HINT = "Recreate the gates' venv with `odibi-improve setup` (it installs pytest and ruff).";

function executable(file: string): boolean {
  try {
    return statSync(file).isFile(); // follows links: a venv python whose interpreter is gone does not count
  } catch {
    return false;
  }
}

/** Where `program` would be found on `PATH` (Windows: with PATHEXT), or undefined. */
function onPath(program: string, env: Record<string, string>): string | undefined {
  if (program.includes("/") || program.includes("\\")) return executable(program) ? program : undefined;
  const pathVar = env.PATH ?? env.Path ?? process.env.PATH ?? process.env.Path ?? "";
  const exts =
    process.platform === "win32" ? ["", ...(process.env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";")] : [""];
  for (const dir of pathVar.split(path.delimiter).filter(Boolean))
    for (const ext of exts)
      if (executable(path.join(dir, program + ext))) return path.join(dir, program + ext);
  return undefined;
}

/** Throws MissingTool naming the first configured tool that cannot start, and what to do about it. */
export async function assertToolsStart(input: ToolCheckInput): Promise<void> {
  if (input.venv !== undefined && !executable(venvBin(input.venv, "python")))
    throw new MissingTool(
      "python (the gates' venv)",
      SETUP_HINT,
      `the gates' venv at ${input.venv} has no working python (deleted, or its interpreter is gone)`,
    );
  const c = input.commands;
  const lines = [c.test, c.lint, c.format_check, c.validate, c.run, c.format, ...(c.fix ?? [])].filter(
    (l): l is string => l !== undefined,
  );
  for (const line of new Set(lines)) {
    const argv = splitCommandLine(line);
    const program = argv[0];
    // A relative path names a file of the tree under test (`./run-tests.sh`): the candidate's, not a tool.
    if (!program || (/[\\/]/.test(program) && !path.isAbsolute(program))) continue;
    const found = onPath(program, input.env);
    if (!found)
      throw new MissingTool(
        program,
        `Install ${program}, or change the command in config.yaml (commands): ${line}`,
        `${program} (for \`${line}\`) is not installed or not on PATH`,
      );
    // The venv's own tools (pytest, ruff through its python) are asked their version, away from the tree under
    // test. Others (npx, cargo, a user's script) resolve from the repository's own setup: finding them is all.
    const adapter = adapterFor(argv);
    if (
      input.venv === undefined ||
      adapter.tool === "command" ||
      path.dirname(found) !== venvBinDir(input.venv)
    )
      continue;
    const version = adapter.versionArgv(argv);
    const r = await runProcess(version[0]!, version.slice(1), {
      cwd: input.neutralDir,
      env: input.env,
      timeoutMs: 60_000,
    });
    if (r.spawnError || r.exitCode !== 0) {
      const said = `${r.stderr}\n${r.stdout}`.trim().split("\n").slice(-3).join(" ").slice(0, 300);
      throw new MissingTool(
        adapter.tool,
        SETUP_HINT,
        `${adapter.tool} cannot start: \`${version.join(" ")}\` ${r.spawnError ? `failed: ${r.spawnError}` : `exited ${r.exitCode}`}${said ? `: ${said}` : ""}`,
      );
    }
  }
}
