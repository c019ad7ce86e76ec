import { Command } from "@commander-js/extra-typings";
import { PROFILES } from "../../core/types.js";
import { ImprovementEnvironment } from "../../environment/environment.js";
import { prepareOdibiEnvironment } from "../../gates/odibi/prepare.js";
import type { CommandContext } from "../context.js";
import { repositoryDependencies, resolveRoot } from "../context.js";

export function initCommand(ctx: CommandContext) {
  return new Command("init")
    .description(
      "create an environment: Master (a git copy of your repository), sandboxes, snapshots, memory",
    )
    .requiredOption("--source <path>", "your repository (Sacred): read, never written")
    .option("--profile <name>", `auto | ${PROFILES.join(" | ")}`, "auto")
    .option("--allow-dirty", "take Sacred's uncommitted working tree as Master's first commit")
    .option("--force", "initialise a non-empty root (existing items are moved aside, never deleted)")
    .action(async (opts) => {
      const out = ctx.output();
      const profile = opts.profile as (typeof PROFILES)[number] | "auto";
      if (profile !== "auto" && !PROFILES.includes(profile))
        throw ctx.usage(`unknown profile "${opts.profile}"`, `Use one of: auto, ${PROFILES.join(", ")}.`);
      const env = await ImprovementEnvironment.init({
        source: opts.source,
        root: resolveRoot(ctx.root()),
        profile,
        allowDirty: opts.allowDirty,
        force: opts.force,
        log: (l) => out.line(l),
      });
      // odibi: the pinned odibi in the venv and the golden projects (built from odibi's own templates).
      const golden = await prepareOdibiEnvironment(env, { log: (l) => out.line(l) });
      if (golden.length)
        out.line(`golden projects: ${golden.map((g) => g.name).join(", ")} in ${env.layout.golden}`);
      // node / python: the repository's packages under the root, where Master and every sandbox find them.
      await repositoryDependencies(env, out);
      const head = await env.masterHead();
      out.result(
        [
          `Sacred:  ${env.sacred} (never written)`,
          `Master:  ${env.layout.master} @ ${head.slice(0, 10)}`,
          `Profile: ${env.config.profile}`,
          `Config:  ${env.layout.config}`,
          "Next: `odibi-improve status`, `odibi-improve doctor`.",
        ].join("\n"),
        { root: env.root, sacred: env.sacred, master: env.layout.master, head, profile: env.config.profile },
      );
    });
}
