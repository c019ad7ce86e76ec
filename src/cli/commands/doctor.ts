import { existsSync } from "node:fs";
import path from "node:path";
import { Command } from "@commander-js/extra-typings";
import { ExitCode } from "../../core/errors.js";
import { probeIsolation } from "../../exec/jail.js";
import { runProcess } from "../../exec/run-process.js";
import { profiles } from "../../profiles/index.js";
import type { ToolProbe } from "../../profiles/profile.js";
import { defaultVenvDir, venvBin } from "../../pyenv/python-env.js";
import type { CommandContext } from "../context.js";
import { environmentChecks, type ToolCheck } from "./doctor-env.js";

async function probe(
  name: string,
  file: string,
  args: string[],
  install: string,
  required: boolean,
): Promise<ToolCheck> {
  const r = await runProcess(file, args, { cwd: process.cwd(), timeoutMs: 30_000 });
  const ok = !r.spawnError && r.exitCode === 0;
  const version = `${r.stdout}\n${r.stderr}`.trim().split("\n")[0];
  return {
    name,
    ok,
    version: ok ? version : undefined,
    where: file,
    install: ok ? undefined : install,
    required,
  };
}

/** Not just "is bwrap installed": start a real jail with the runner's flags (user namespaces may be refused). */
async function isolationCheck(): Promise<ToolCheck> {
  const p = await probeIsolation();
  return {
    name: "isolation",
    ok: p.available,
    version: p.available ? `bwrap jail works (${p.version})` : undefined,
    where: p.bwrap,
    install: p.available
      ? undefined
      : `${p.reason}; without it \`isolation: auto\` runs deterministic fixers unjailed (with a warning) and refuses LLM runs`,
    required: false,
  };
}

/**
 * What every profile needs (git, node, python, the jail), then each profile's own tools (`Profile.doctor`), each
 * named once with the profiles that need it.
 */
export async function runDoctor(): Promise<ToolCheck[]> {
  const venv = defaultVenvDir();
  const py = existsSync(venvBin(venv, "python"))
    ? venvBin(venv, "python")
    : process.platform === "win32"
      ? "python"
      : "python3";
  const needs = new Map<string, { probe: ToolProbe; profiles: string[] }>();
  for (const p of profiles())
    for (const probe of p.doctor ?? []) {
      const seen = needs.get(probe.name);
      if (seen) seen.profiles.push(p.name);
      else needs.set(probe.name, { probe, profiles: [p.name] });
    }
  return Promise.all([
    probe(
      "git",
      "git",
      ["--version"],
      "install git: https://git-scm.com/downloads (Debian: apt-get install git)",
      true,
    ),
    probe("node", process.execPath, ["--version"], "install Node.js 20", true),
    probe(
      "python",
      py,
      ["--version"],
      "install Python 3.10+ (Debian: apt-get install python3 python3-venv)",
      true,
    ),
    ...[...needs.values()].map(async ({ probe: t, profiles: names }) => ({
      ...(await probe(
        t.name,
        t.file === "venv-python" ? py : t.file,
        t.args,
        `${t.install} (for the ${names.join(", ")} profile${names.length > 1 ? "s" : ""})`,
        false,
      )),
      profiles: names,
    })),
    isolationCheck(),
  ]);
}

export function doctorCommand(ctx: CommandContext) {
  return new Command("doctor")
    .description(
      "check the tools odibi-improve uses and say how to install what is missing; with --root (odibi profile), also the tests that cannot run there and how to fix it",
    )
    .action(async () => {
      const out = ctx.output();
      const root = ctx.root() ?? process.env.ODIBI_IMPROVE_ROOT;
      const checks = [...(await runDoctor()), ...(root ? environmentChecks(path.resolve(root)) : [])];
      const lines = checks.map(
        (c) =>
          `${c.ok ? "ok     " : c.required ? "MISSING" : "missing"} ${c.name.padEnd(7)} ${c.ok ? c.version : `→ ${c.install}`}`,
      );
      // A required tool missing is a failed check (1), not a failure of doctor itself.
      const ok = !checks.some((c) => c.required && !c.ok);
      out.result(lines.join("\n"), { ok, checks }, ok ? ExitCode.ok : ExitCode.checksFailed);
    });
}
