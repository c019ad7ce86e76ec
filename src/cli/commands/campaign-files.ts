import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Command } from "@commander-js/extra-typings";
import { CampaignStore } from "../../campaign/record.js";
import { NotFoundError } from "../../core/errors.js";
import type { ImprovementEnvironment } from "../../environment/environment.js";
import { rmGuarded, writeFileAtomic } from "../../environment/fs-safe.js";
import { git } from "../../environment/git.js";
import { openCampaignState } from "../../events/read-model.js";
import { markdownForTerminal } from "../../status/report-files.js";
import { campaignReportName } from "../../status/reports.js";
import type { CommandContext } from "../context.js";
import { withEnvironment } from "../context.js";

export function stopCommand(ctx: CommandContext) {
  return new Command("stop")
    .description(
      "ask the running campaign to stop after its current step (it cleans up and writes its report)",
    )
    .action(async () => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        writeFileAtomic(env.guard, env.layout.stopRequest, `stop requested at ${new Date().toISOString()}\n`);
        const s = openCampaignState(env.root).status;
        out.result(
          s?.effective === "running"
            ? `stop requested: campaign ${s.status.campaign_id} (pid ${s.status.pid}) will stop after its current step`
            : "stop requested (no campaign is running now; the request is cleared when the next one starts)",
          {
            requested: true,
            running: s?.effective === "running",
            campaignId: s?.effective === "running" ? s.status.campaign_id : null,
          },
        );
      });
    });
}

export function reportCommand(ctx: CommandContext) {
  return new Command("report")
    .description(
      "write and print the campaign report (the latest campaign, --campaign <id>, or --all); HTML beside the markdown",
    )
    .option("--campaign <id>", "campaign id (see `odibi-improve campaigns`)")
    .option("--all", "write every campaign's report and list them")
    .action(async (opts) => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const store = new CampaignStore(env);
        if (opts.all) {
          const reports = [];
          for (const c of store.list())
            reports.push(reportPaths(c.id, await store.writeCampaignReport(c.id)));
          out.result(
            reports.length
              ? reports.map((w) => `${w.campaignId}  ${w.reportPath}`).join("\n")
              : "no campaign yet",
            { reports },
          );
          return;
        }
        const id = opts.campaign ?? store.latestId();
        if (!id || !store.load(id))
          throw new NotFoundError(
            opts.campaign ? `no campaign ${opts.campaign}` : "no campaign has run in this environment yet",
            opts.campaign ? "List them with `odibi-improve campaigns`." : "Run one with `odibi-improve run`.",
          );
        const file = await store.writeCampaignReport(id);
        out.result(markdownForTerminal(readFileSync(file, "utf8")), { reports: [reportPaths(id, file)] });
      });
    });
}

/** A written campaign report: its markdown and the HTML beside it. */
function reportPaths(campaignId: string, reportPath: string) {
  return { campaignId, reportPath, htmlPath: reportPath.replace(/\.md$/, ".html") };
}

export function campaignsCommand(ctx: CommandContext) {
  return new Command("campaigns")
    .description("list every campaign on this root, oldest first")
    .action(async () => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const campaigns = new CampaignStore(env).list().map((c) => ({
          campaignId: c.id,
          startedAt: c.startedAt,
          counts: {
            cycles: c.cycles.length,
            promoted: c.promotions.length,
            rejected: c.cycles.filter((x) => x.action === "rejected").length,
          },
          reportPath: path.join(env.layout.reports, campaignReportName(c.id)),
        }));
        const text = campaigns.map(
          ({ campaignId, startedAt, counts: n }) =>
            `${campaignId}  ${startedAt}  ${n.cycles} cycle(s), ${n.promoted} promoted, ${n.rejected} rejected`,
        );
        out.result(text.length ? text.join("\n") : "no campaign yet: run one with `odibi-improve run`", {
          campaigns,
        });
      });
    });
}

export function exportCommand(ctx: CommandContext) {
  return new Command("export")
    .description(
      "write Master's changes since Sacred as a git patch series + summary, to review and apply by hand",
    )
    .option("--out <dir>", "output folder (default: <root>/exports/<time>)")
    .option(
      "--since <snapshot|campaign>",
      "only the commits after a snapshot, or those a campaign promoted and later (default: all since Sacred)",
    )
    .action(async (opts) => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const from = opts.since ? await exportStart(env, opts.since) : "sacred";
        const dir = path.resolve(
          opts.out ?? path.join(env.root, "exports", new Date().toISOString().replace(/[:.]/g, "-")),
        );
        env.guard.assertWritable(dir);
        if (existsSync(dir) && !existsSync(path.join(dir, "SUMMARY.md")) && readdirSync(dir).length > 0)
          throw ctx.usage(`${dir} is not empty`, "Choose a new folder with --out.");
        mkdirSync(dir, { recursive: true });
        const master = env.layout.master;
        const count = Number((await git(master, ["rev-list", "--count", `${from}..HEAD`])).trim());
        // Re-exporting into an earlier export folder: the old series goes, so no stale patch is applied.
        for (const f of readdirSync(dir))
          if (/^\d{4}-.*\.patch$/.test(f) || f === "series.mbox") rmGuarded(env.guard, path.join(dir, f));
        const patches: string[] = [];
        if (count) {
          // One file per promotion to review, and the whole series as one mbox that `git am` takes on any OS
          // (no shell glob needed on Windows).
          const written = await git(master, ["format-patch", "-o", dir, `${from}..HEAD`]);
          patches.push(
            ...written
              .split("\n")
              .map((l) => l.trim())
              .filter(Boolean)
              .map((f) => path.basename(f)),
          );
          const mbox = await git(master, ["format-patch", "--stdout", `${from}..HEAD`]);
          writeFileAtomic(env.guard, path.join(dir, "series.mbox"), mbox);
        }
        const log = (await git(master, ["log", "--reverse", "--format=- %h %s", `${from}..HEAD`])).trim();
        const stat = (await git(master, ["diff", "--stat", from, "HEAD"])).trimEnd();
        const summary = [
          opts.since ? `# Master's changes since ${opts.since}` : "# Master's changes since Sacred",
          "",
          `${count} commit(s) from odibi-improve, each one promoted after every gate passed.`,
          "",
          log || "(none)",
          "",
          "```text",
          stat || "(no differences)",
          "```",
          "",
          ...(count
            ? [
                `One patch per promotion: ${patches.join(", ")}.`,
                "",
                "Apply them to your repository (Sacred) after review, all at once:",
                "",
                "```bash",
                `git -C <your repo> am ${JSON.stringify(path.join(dir, "series.mbox"))}`,
                "```",
              ]
            : ["Nothing to apply: Master is Sacred."]),
          "",
        ].join("\n");
        writeFileAtomic(env.guard, path.join(dir, "SUMMARY.md"), summary);
        out.result(
          `${patches.length} patch(es)${count ? ", series.mbox" : ""} and SUMMARY.md written to ${dir}`,
          {
            dir,
            patches,
            commits: count,
          },
        );
      });
    });
}

/** The commit an export starts after: a snapshot's, or Master's before a campaign's first promotion. */
async function exportStart(env: ImprovementEnvironment, since: string): Promise<string> {
  const snap = env.listSnapshots().find((s) => s.name === since);
  if (snap) return snap.commit;
  const record = new CampaignStore(env).load(since);
  if (!record)
    throw new NotFoundError(
      `no snapshot or campaign named "${since}"`,
      "List them with `odibi-improve snapshots` and `odibi-improve status`.",
    );
  const first = record.promotions.find((p) => p.commit)?.commit;
  if (!first) return "HEAD"; // it promoted nothing: nothing to export
  return (await git(env.layout.master, ["rev-parse", `${first}~1`])).trim();
}
