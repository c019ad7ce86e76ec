import { Command, CommanderError } from "@commander-js/extra-typings";
import { ExitCode, UsageError } from "../core/errors.js";
import { toolVersion } from "../pyenv/python-env.js";
import { analyzeCommand } from "./commands/analyze.js";
import { campaignsCommand, exportCommand, reportCommand, stopCommand } from "./commands/campaign-files.js";
import { demoCommand } from "./commands/demo.js";
import { doctorCommand } from "./commands/doctor.js";
import { gatesCommand } from "./commands/gates.js";
import { harnessCommand } from "./commands/harness.js";
import { initCommand } from "./commands/init.js";
import { runCommand } from "./commands/run.js";
import { sandboxCommand } from "./commands/sandbox.js";
import { schemaCommand } from "./commands/schema.js";
import { setupCommand } from "./commands/setup.js";
import { rollbackCommand, snapshotCommand, snapshotsCommand } from "./commands/snapshots.js";
import { statusCommand } from "./commands/status.js";
import { applyCommand, resyncCommand } from "./commands/sync.js";
import { uiCommand } from "./commands/ui.js";
import { workerCommand } from "./commands/worker.js";
import type { CommandContext } from "./context.js";
import { makeOutput, reportError, writeErrorJson } from "./output.js";

/** The command a `program.parseAsync` ran or is running ("sandbox create"), for its JSON result and errors. */
function commandPath(c: { name(): string; parent: unknown }): string {
  const names: string[] = [];
  for (let x: { name(): string; parent: unknown } | null = c; x?.parent; x = x.parent as typeof x)
    names.unshift(x.name());
  return names.join(" ");
}

/** The command argv names (for an error before any action ran): the first command name, and its subcommand. */
function commandInArgv(program: Command, argv: string[]): string {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const c = program.commands.find((x) => x.name() === args[i]);
    if (!c) continue;
    const sub = c.commands.find((x) => x.name() === args[i + 1]);
    return sub ? `${c.name()} ${sub.name()}` : c.name();
  }
  return "";
}

export function buildProgram() {
  let running = "";
  const program = new Command("odibi-improve")
    .description("Autonomous improvement campaigns: Sacred → Master → Sandboxes, gates, memory, reports.")
    .version(toolVersion())
    .option("--root <path>", "the environment folder (default: $ODIBI_IMPROVE_ROOT)")
    .option("--json", "machine-readable output")
    .showHelpAfterError()
    .exitOverride();
  const ctx: CommandContext = {
    root: () => program.opts().root,
    json: () => Boolean(program.opts().json),
    output: () => makeOutput(Boolean(program.opts().json), running),
    usage: (m, h) => new UsageError(m, h),
  };
  for (const c of [
    demoCommand(ctx),
    initCommand(ctx),
    runCommand(ctx),
    stopCommand(ctx),
    statusCommand(ctx),
    reportCommand(ctx),
    campaignsCommand(ctx),
    exportCommand(ctx),
    applyCommand(ctx),
    resyncCommand(ctx),
    snapshotCommand(ctx),
    snapshotsCommand(ctx),
    rollbackCommand(ctx),
    sandboxCommand(ctx),
    schemaCommand(ctx),
    doctorCommand(ctx),
    setupCommand(ctx),
    gatesCommand(ctx),
    uiCommand(ctx),
    harnessCommand(ctx),
    analyzeCommand(ctx),
    workerCommand(ctx),
  ]) {
    program.addCommand(c as unknown as Command);
  }
  // Global options may also be given after the command name.
  program.enablePositionalOptions(false);
  program.hook("preAction", (_program, action) => {
    running = commandPath(action);
  });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes("--json");
  const command = () => commandInArgv(program as unknown as Command, argv);
  program.commands.forEach(function exitOverride(c) {
    c.exitOverride();
    c.commands.forEach(exitOverride);
  });
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" ||
        err.code === "commander.version" ||
        err.code === "commander.help"
      )
        return 0;
      // commander printed the message; with --json the error is also the last JSON line.
      if (json)
        writeErrorJson(new UsageError(err.message.replace(/^error: /, "")), command(), ExitCode.usage);
      return ExitCode.usage;
    }
    return reportError(err, json, command());
  }
}
