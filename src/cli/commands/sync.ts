import { Command } from "@commander-js/extra-typings";
import { CampaignStore } from "../../campaign/record.js";
import type { ImprovementEnvironment } from "../../environment/environment.js";
import { applyToSacred, resyncMaster } from "../../environment/sync.js";
import { readStatus } from "../../status/liveness.js";
import type { CommandContext } from "../context.js";
import { withEnvironment } from "../context.js";
import type { Output } from "../output.js";

export function applyCommand(ctx: CommandContext) {
  return new Command("apply")
    .description(
      "create a branch in your repository holding Master's new commits (objects and one new branch: your checked-out branch, index and files are not touched)",
    )
    .option("--branch <name>", "branch name (default: odibi-improve/<latest campaign>)")
    .action((opts) =>
      syncing(ctx, async (env, out) => {
        const campaign = new CampaignStore(env).latestId();
        const branch = opts.branch ?? `odibi-improve/${campaign ?? "master"}`;
        const r = await applyToSacred(env, branch);
        const repo = JSON.stringify(env.sacred);
        const text =
          r.commits === 0
            ? "Nothing to apply: your repository's HEAD has every commit of Master."
            : [
                `${r.unchanged ? "Branch" : "Created branch"} ${r.branch} in ${env.sacred} at ${r.head.slice(0, 10)}: ${r.commits} commit(s) your HEAD does not have.`,
                "",
                "Review and merge it in your repository:",
                `  git -C ${repo} log --stat HEAD..${r.branch}`,
                `  git -C ${repo} merge ${r.branch}`,
                "Then bring Master onto what you merged (lessons, config and snapshots are kept):",
                "  odibi-improve resync",
              ].join("\n");
        out.result(text, r);
      }),
    );
}

export function resyncCommand(ctx: CommandContext) {
  return new Command("resync")
    .description(
      "move Master onto your repository's current HEAD, keeping the promotions you have not taken (memory, config and snapshots stay)",
    )
    .option("--drop-unmerged", "also leave out the commits the last `apply` offered that you did not merge")
    .action((opts) =>
      syncing(ctx, async (env, out) => {
        const crashed = readStatus(env.root)?.effective === "crashed";
        const r = await resyncMaster(env, { dropUnmerged: opts.dropUnmerged, crashed });
        const short = (c: string) => c.slice(0, 10);
        const text = r.snapshot
          ? [
              `Master is now on your HEAD ${short(r.base)} (was ${short(r.previousBase)}), at ${short(r.head)}.`,
              `  already in your repository: ${r.inSacred.length}`,
              `  kept (not in your repository yet): ${r.kept.length}${r.kept.length ? ` (${r.kept.map(short).join(", ")})` : ""}`,
              ...r.dropped.map((d) => `  left out: ${short(d.commit)} ${d.subject} (${d.reason})`),
              `The state before is snapshot ${r.snapshot} (\`odibi-improve rollback ${r.snapshot}\` returns to it).`,
            ].join("\n")
          : `Master is already on your HEAD ${short(r.base)}: nothing to do.`;
        out.result(text, r);
      }),
    );
}

/** Both commands write Sacred's `.git` or follow Sacred's HEAD on purpose: no warning that Sacred changed. */
function syncing(ctx: CommandContext, fn: (env: ImprovementEnvironment, out: Output) => Promise<void>) {
  const out = ctx.output();
  return withEnvironment(ctx.root(), out, (env) => fn(env, out), { sacredSync: true });
}
