import { existsSync, readFileSync } from "node:fs";
import { Command } from "@commander-js/extra-typings";
import { withEnvironment } from "../context.js";
import type { CommandContext } from "../main.js";

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
        const campaign = existsSync(env.layout.status)
          ? (JSON.parse(readFileSync(env.layout.status, "utf8")) as unknown)
          : null;
        const data = {
          root: env.root,
          sacred: env.sacred,
          profile: env.config.profile,
          master: { path: env.layout.master, head, dirty: dirty.length },
          snapshots: snapshots.length,
          lastSnapshot: snapshots.at(-1)?.name ?? null,
          sandboxes: sandboxes.map((s) => s.id),
          campaign,
        };
        out.result(
          [
            `Root:       ${env.root}`,
            `Sacred:     ${env.sacred} (fingerprint verified)`,
            `Profile:    ${env.config.profile}`,
            `Master:     ${head.slice(0, 10)}${dirty.length ? ` (${dirty.length} uncommitted change(s)!)` : " (clean)"}`,
            `Snapshots:  ${snapshots.length}${snapshots.length ? ` (last: ${snapshots.at(-1)!.name})` : ""}`,
            `Sandboxes:  ${sandboxes.length ? sandboxes.map((s) => s.id).join(", ") : "none"}`,
            `Campaign:   ${campaign ? JSON.stringify(campaign) : "none yet"}`,
          ].join("\n"),
          data,
        );
      });
    });
}
