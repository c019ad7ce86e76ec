import { Command } from "@commander-js/extra-typings";
import { ensureOdibiSource, ensurePythonEnv, ODIBI_VERSION } from "../../pyenv/python-env.js";
import type { CommandContext } from "../context.js";

export function setupCommand(ctx: CommandContext) {
  return new Command("setup")
    .description("create the Python venv the gates use (pytest, ruff; odibi with --odibi)")
    .option("--odibi", `also install odibi ${ODIBI_VERSION} and fetch its source`)
    .action(async (opts) => {
      const out = ctx.output();
      const env = await ensurePythonEnv({ odibi: opts.odibi, log: (l) => out.line(l) });
      const src = opts.odibi ? await ensureOdibiSource({ log: (l) => out.line(l) }) : undefined;
      out.result(`Python venv ready: ${env.venv}${src ? `\nodibi source: ${src}` : ""}`, {
        ...env,
        odibiSource: src,
      });
    });
}
