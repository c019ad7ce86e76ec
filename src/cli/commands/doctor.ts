import { existsSync } from "node:fs";
import { Command } from "@commander-js/extra-typings";
import { probeIsolation } from "../../exec/jail.js";
import { runProcess } from "../../exec/run-process.js";
import { defaultVenvDir, venvBin } from "../../pyenv/python-env.js";
import type { CommandContext } from "../context.js";

interface ToolCheck {
  name: string;
  ok: boolean;
  version?: string;
  where?: string;
  install?: string;
  required: boolean;
}

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

export async function runDoctor(): Promise<ToolCheck[]> {
  const venv = defaultVenvDir();
  const py = existsSync(venvBin(venv, "python"))
    ? venvBin(venv, "python")
    : process.platform === "win32"
      ? "python"
      : "python3";
  const setup = "run `odibi-improve setup --odibi` (creates the venv with pytest, ruff and odibi)";
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
      "npm",
      "npm",
      ["--version"],
      "install npm (it comes with Node.js; Debian: apt-get install npm): the node profile installs a repository's packages with it",
      false,
    ),
    probe(
      "python",
      py,
      ["--version"],
      "install Python 3.10+ (Debian: apt-get install python3 python3-venv)",
      true,
    ),
    probe("pytest", py, ["-m", "pytest", "--version"], setup, false),
    probe("ruff", py, ["-m", "ruff", "--version"], setup, false),
    probe("odibi", py, ["-m", "odibi", "--version"], setup, false),
    isolationCheck(),
  ]);
}

export function doctorCommand(ctx: CommandContext) {
  return new Command("doctor")
    .description("check the tools odibi-improve uses and say how to install what is missing")
    .action(async () => {
      const out = ctx.output();
      const checks = await runDoctor();
      const lines = checks.map(
        (c) =>
          `${c.ok ? "ok     " : c.required ? "MISSING" : "missing"} ${c.name.padEnd(7)} ${c.ok ? c.version : `→ ${c.install}`}`,
      );
      out.result(lines.join("\n"), checks);
      if (checks.some((c) => c.required && !c.ok)) process.exitCode = 1;
    });
}
