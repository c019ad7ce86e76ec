import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "@commander-js/extra-typings";
import { CampaignRunner } from "../../campaign/runner.js";
import { UsageError } from "../../core/errors.js";
import { ImprovementEnvironment } from "../../environment/environment.js";
import { git } from "../../environment/git.js";
import { RunLog } from "../../events/run-log.js";
import { detectProfile } from "../../profiles/index.js";
import { ensureOdibiSource, ensurePythonEnv, PACKAGE_ROOT } from "../../pyenv/python-env.js";
import { markdownForTerminal } from "../../status/report-files.js";
import type { CommandContext } from "../context.js";
import { campaignSummary, progressPrinter } from "./run.js";

/** The transformer file the `--odibi` demo plants a lint defect in (an unused import ruff can remove). */
const ODIBI_DEFECT_FILE = path.join("odibi", "transformers", "sql_core.py");

async function makeSacred(from: string, dest: string, message: string): Promise<void> {
  cpSync(from, dest, { recursive: true });
  await git(dest, ["init", "-q", "-b", "main"]);
  await git(dest, ["add", "-A"]);
  await git(dest, ["commit", "-q", "-m", message]);
}

export function demoCommand(ctx: CommandContext) {
  return new Command("demo")
    .description(
      "a short campaign on a bundled sample target (no API key): promotions, snapshots, report, Master's diff",
    )
    .option("--dir <path>", "where to put the demo (default: a new folder in the temp dir)")
    .option("--odibi", "use the real odibi from PyPI, with a lint defect injected into a copy")
    .option("--max-cycles <n>", "cycles (default 8; 4 with --odibi)", Number)
    .action(async (opts) => {
      const out = ctx.output();
      const dir = path.resolve(opts.dir ?? path.join(os.tmpdir(), `odibi-improve-demo-${Date.now()}`));
      if (existsSync(dir) && readdirSync(dir).length > 0)
        throw new UsageError(`${dir} is not empty`, "Pass a new folder with --dir.");
      mkdirSync(dir, { recursive: true });
      out.line(`demo folder: ${dir}`);
      const py = await ensurePythonEnv({ odibi: Boolean(opts.odibi), log: (l) => out.line(l) });
      const sacred = path.join(dir, opts.odibi ? "odibi" : "inventory-demo");
      if (opts.odibi) {
        await makeSacred(await ensureOdibiSource({ log: (l) => out.line(l) }), sacred, "odibi sdist");
        // The injected defect: an unused import (ruff F401), committed, as if it had slipped into the repo.
        appendFileSync(
          path.join(sacred, ODIBI_DEFECT_FILE),
          "\nimport textwrap  # injected by odibi-improve demo\n",
        );
        await git(sacred, ["commit", "-q", "-am", "demo: inject a lint defect"]);
      } else {
        await makeSacred(path.join(PACKAGE_ROOT, "samples", "demo-target"), sacred, "sample target");
      }
      const root = path.join(dir, "improve");
      const profile = detectProfile(sacred);
      const env = await ImprovementEnvironment.init({
        source: sacred,
        root,
        profile,
        log: (l) => out.line(l),
      });
      await profile.prepare?.(env, { venv: py.venv, log: (l) => out.line(l) });
      const before = env.recordedFingerprint()!.digest;
      out.line(`Sacred: ${sacred}\nEnvironment: ${root} (profile ${env.config.profile})\n`);
      let runner: CampaignRunner | undefined;
      const runLog = new RunLog(env.guard, env.layout.logs, () => runner?.id ?? "");
      runner = new CampaignRunner(env, {
        maxCycles: opts.maxCycles ?? (opts.odibi ? 4 : 8),
        convergence: 2,
        venv: py.venv,
        onEvent: progressPrinter(
          ctx.json(),
          { maxHours: env.config.stop_conditions.max_hours },
          process.stdout,
          runLog.line,
        ),
      });
      const r = await runner.run();
      env.verifySacred();
      const log = (
        await git(env.layout.master, ["log", "--reverse", "--format=  %h %s", "sacred..HEAD"])
      ).trimEnd();
      const diff = (await git(env.layout.master, ["diff", "--stat", "sacred", "HEAD"])).trimEnd();
      const snaps = env.listSnapshots().map((s) => `  ${s.name}`);
      out.result(
        [
          "",
          `Campaign ${r.campaignId} ended: ${r.reason} after ${r.cycles} cycle(s); ${r.promoted} promoted, ${r.rejected} rejected.`,
          "",
          "Promotions on Master:",
          log || "  (none)",
          "",
          "Snapshots (rollback points):",
          snaps.join("\n") || "  (none)",
          "",
          "Master against Sacred:",
          diff ? diff.replace(/^/gm, "  ") : "  (identical)",
          "",
          `Report: ${r.reportPath}`,
          `Sacred is byte-identical to before (fingerprint ${before.slice(0, 12)} verified).`,
          "",
          `Look around: odibi-improve --root "${root}" status | report | campaigns | snapshots | apply | export`,
        ].join("\n"),
        { ...campaignSummary(r), root, sacred, snapshots: env.listSnapshots() },
        r.exitCode,
      );
      if (!ctx.json() && r.reportPath)
        out.line(`\n${markdownForTerminal(readFileSync(r.reportPath, "utf8"))}`);
    });
}
