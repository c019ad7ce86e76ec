import { existsSync } from "node:fs";
import path from "node:path";
import { ImprovementEnvironment } from "../../environment/environment.js";
import { FALLBACK_PTH, readExtrasRecord } from "../../environment/python-deps.js";
import {
  installedModules,
  sitePackagesOf,
  type UnrunnableTests,
  unrunnableTests,
} from "../../environment/python-project.js";
import { defaultVenvDir } from "../../pyenv/python-env.js";

/** One line of `doctor`: a tool, or (with an environment) a group of tests that cannot run there. */
export interface ToolCheck {
  name: string;
  ok: boolean;
  version?: string;
  where?: string;
  install?: string;
  required: boolean;
  /** The profiles that need it (none: every profile). */
  profiles?: string[];
}

/**
 * With an environment (odibi profile): the extras installed for its gates, the pinned ruff, and the test files that
 * use a module the repository declares but that is not installed there, grouped by module, each with the exact
 * fix (the `python.extras` line to write and the command that installs it) or why none exists here.
 */
export function environmentChecks(root: string): ToolCheck[] {
  let env: ImprovementEnvironment;
  try {
    env = ImprovementEnvironment.open(root);
  } catch {
    return [];
  }
  if (env.config.profile !== "odibi") return [];
  const { layout } = env;
  const record = readExtrasRecord(layout.state);
  const out: ToolCheck[] = [];
  if (record)
    out.push({
      name: "extras",
      ok: true,
      required: false,
      version: `${record.requested.join(", ") || "none"} (${record.source === "config" ? "python.extras" : "chosen from the tests' imports"})`,
      where: layout.pythonPackages,
    });
  if (record?.ruff) {
    const bin = path.join(layout.pythonPackages, process.platform === "win32" ? "Scripts" : "bin", "ruff");
    const ok = existsSync(bin) || existsSync(`${bin}.exe`);
    out.push({
      name: "ruff pin",
      ok,
      required: false,
      version: ok ? `ruff ${record.ruff.version} (pinned by ${record.ruff.from})` : undefined,
      where: bin,
      install: ok
        ? undefined
        : `run \`odibi-improve gates --master --root ${root}\` (installs ruff==${record.ruff.version})`,
    });
  }
  // What the gates' python sees: the repository's venv, and the tool's venv behind it when it falls back to it.
  const own = sitePackagesOf(layout.pythonPackages);
  const fallback = own.some((d) => existsSync(path.join(d, FALLBACK_PTH)));
  const available = new Set(
    [...own, ...(own.length === 0 || fallback ? sitePackagesOf(defaultVenvDir()) : [])].flatMap((d) => [
      ...installedModules(d),
    ]),
  );
  for (const group of unrunnableTests(layout.master, available))
    out.push({
      name: `tests:${group.module}`,
      ok: false,
      required: false,
      install: `${describeFiles(group)} cannot run here: ${fixFor(group, record, layout.config, root)}`,
    });
  return out;
}

function describeFiles(g: UnrunnableTests): string {
  const shown = g.files.slice(0, 3).join(", ");
  return `${g.files.length} test file(s) using ${g.module} (${shown}${g.files.length > 3 ? ", …" : ""})`;
}

function fixFor(
  g: UnrunnableTests,
  record: ReturnType<typeof readExtrasRecord>,
  config: string,
  root: string,
): string {
  const why = record?.leftOut[g.requirement];
  if (why !== undefined)
    return `${g.requirement}${g.extra ? ` (extra ${g.extra})` : ""} cannot be installed here (${why}); odibi-improve installs wheels only, so no setting changes that`;
  const install = `\`odibi-improve gates --master --root ${root}\` (it installs them)`;
  if (g.extra === undefined)
    return `${g.requirement} is a core dependency and is not installed: run ${install} and read its install message`;
  const extras = [...new Set([...(record?.requested ?? []), g.extra])];
  return `it comes with the extra ${g.extra}: set \`python: { extras: [${extras.join(", ")}] }\` in ${config}, then run ${install}`;
}
