import path from "node:path";
import { Command } from "@commander-js/extra-typings";
import { COVERAGE_STORE } from "../../campaign/coverage-work.js";
import { describeHours } from "../../core/duration.js";
import { openCampaignState } from "../../events/read-model.js";
import { storedCoverage } from "../../harness/coverage.js";
import { harnessSummary } from "../../harness/summary.js";
import type { CommandContext } from "../context.js";
import { withEnvironment } from "../context.js";

export function statusCommand(ctx: CommandContext) {
  return new Command("status")
    .description("the environment and the current campaign (reads status.json)")
    .action(async () => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const head = await env.masterHead();
        const dirty = await env.masterDirty();
        const snapshots = env.listSnapshots();
        const sandboxes = env.listSandboxes();
        const reading = openCampaignState(env.root).status;
        const campaign = reading
          ? { ...reading.status, effective_status: reading.effective, note: reading.note }
          : null;
        const c = reading?.status;
        const campaignLines = !c
          ? ["Campaign:   none yet (start one with `odibi-improve run`)"]
          : [
              `Campaign:   ${c.campaign_id} — ${reading!.effective}${c.stop_reason ? ` (${c.stop_reason})` : ""}`,
              ...(reading!.note ? [`  ⚠ ${reading!.note}`] : []),
              `  cycle ${c.current_cycle}${c.step ? `, step ${c.step.name} since ${c.step.since}` : ""}; ${c.cycles_completed} completed`,
              `  promoted ${c.improvements_promoted}, rejected ${c.improvements_rejected}, Master changes ${c.master_changes}, avoided ${c.issues_avoided.length}`,
              `  elapsed ${describeHours(c.elapsed_hours)}; convergence counter ${c.convergence_counter}${c.last_promotion ? `; last promotion ${c.last_promotion}` : ""}`,
              ...(c.isolation_warning ? [`  ⚠ ${c.isolation_warning}`] : []),
            ];
        const data = {
          root: env.root,
          sacred: env.sacred,
          profile: env.config.profile,
          master: { path: env.layout.master, head, dirty: dirty.length },
          snapshots: snapshots.length,
          lastSnapshot: snapshots.at(-1)?.name ?? null,
          sandboxes: sandboxes.map((s) => s.id),
          campaign,
          coverage: storedCoverage(path.join(env.layout.state, COVERAGE_STORE)),
          harness: harnessSummary(env.layout.golden),
        };
        const cov = data.coverage;
        const coverageLines = !cov
          ? []
          : [
              `Coverage:   ${cov.totals.percent}% of lines + branches (${cov.measuredBy}; ${cov.totals.covered}/${cov.totals.statements} lines, ${cov.totals.coveredBranches}/${cov.totals.branches} branches; ${cov.measuredAt})`,
            ];
        const h = data.harness;
        const harnessLines = !h
          ? []
          : [
              `Harnesses:  ${h.harnesses} for odibi ${h.odibiVersion}, ${h.gaps} coverage gap(s)${
                h.lastRun
                  ? `; last run ${h.lastRun.passed}/${h.lastRun.total} pass, ${h.lastRun.findings} finding(s), transformers covered ${h.lastRun.transformers}`
                  : "; not run yet"
              }`,
            ];
        out.result(
          [
            `Root:       ${env.root}`,
            `Sacred:     ${env.sacred} (fingerprint verified)`,
            `Profile:    ${env.config.profile}`,
            `Master:     ${head.slice(0, 10)}${dirty.length ? ` (${dirty.length} uncommitted change(s)!)` : " (clean)"}`,
            `Snapshots:  ${snapshots.length}${snapshots.length ? ` (last: ${snapshots.at(-1)!.name})` : ""}`,
            `Sandboxes:  ${sandboxes.length ? sandboxes.map((s) => s.id).join(", ") : "none"}`,
            ...harnessLines,
            ...coverageLines,
            ...campaignLines,
          ].join("\n"),
          data,
        );
      });
    });
}
