import path from "node:path";
import { Command } from "@commander-js/extra-typings";
import { OdibiImproveError } from "../../core/errors.js";
import { ImprovementEnvironment } from "../../environment/environment.js";
import { explainGitFailure, GitError } from "../../environment/git.js";
import { detectProfile, profileOf, profiles } from "../../profiles/index.js";
import type { CommandContext } from "../context.js";
import { repositoryDependencies, resolveRoot } from "../context.js";

/** A git failure while making Master, in words, with what to do (the raw git message kept below). */
function explainedGitError(e: unknown, source: string): unknown {
  if (!(e instanceof GitError)) return e;
  const why = explainGitFailure(e.message, path.resolve(source));
  if (!why) return e;
  return new OdibiImproveError(
    `could not copy your repository (${source}) into Master: ${why.what}.\ngit said: ${e.message}`,
    { hint: `${why.todo} odibi-improve only reads your repository; nothing was changed in it.`, cause: e },
  );
}

export function initCommand(ctx: CommandContext) {
  return new Command("init")
    .description(
      "create an environment: Master (a git copy of your repository), sandboxes, snapshots, memory",
    )
    .requiredOption(
      "--source <path>",
      "your repository (Sacred): read only (`apply` adds a branch when you run it)",
    )
    .option(
      "--profile <name>",
      `auto | ${profiles()
        .map((p) => p.name)
        .join(" | ")}`,
      "auto",
    )
    .option("--allow-dirty", "take Sacred's uncommitted working tree as Master's first commit")
    .option("--force", "initialise a non-empty root (existing items are moved aside, never deleted)")
    .action(async (opts) => {
      const out = ctx.output();
      const names = profiles().map((p) => p.name);
      if (opts.profile !== "auto" && !names.includes(opts.profile))
        throw ctx.usage(`unknown profile "${opts.profile}"`, `Use one of: auto, ${names.join(", ")}.`);
      const profile = opts.profile === "auto" ? detectProfile(opts.source) : profileOf(opts.profile);
      const env = await ImprovementEnvironment.init({
        source: opts.source,
        root: resolveRoot(ctx.root()),
        profile,
        allowDirty: opts.allowDirty,
        force: opts.force,
        log: (l) => out.line(l),
      }).catch((e: unknown) => {
        throw explainedGitError(e, opts.source);
      });
      if (Object.keys(profile.commands(env.layout.master)).length === 0)
        out.warn(
          `the ${profile.name} profile has no commands: the gates check nothing until you set commands.test / commands.lint in ${env.layout.config}${opts.profile === "generic" && detectProfile(opts.source).name !== "generic" ? `, or run init with --profile ${detectProfile(opts.source).name} (what this repository looks like)` : ""}.`,
        );
      // The repository's packages under the root, where Master and every sandbox find them (odibi: with its extras).
      await repositoryDependencies(env, out);
      // odibi: the golden projects, built from the repository's own templates with its dependencies.
      const prepared = await profile.prepare?.(env, { log: (l) => out.line(l) });
      if (prepared) out.line(prepared);
      const head = await env.masterHead();
      out.result(
        [
          `Sacred:  ${env.sacred} (read only; only odibi-improve apply, when you run it, adds a branch)`,
          `Master:  ${env.layout.master} @ ${head.slice(0, 10)}`,
          `Profile: ${env.config.profile}`,
          `Config:  ${env.layout.config}`,
          "Next: `odibi-improve status`, `odibi-improve doctor`.",
        ].join("\n"),
        { root: env.root, sacred: env.sacred, master: env.layout.master, head, profile: env.config.profile },
      );
    });
}
