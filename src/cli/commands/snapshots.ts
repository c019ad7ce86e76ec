import { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import { withEnvironment } from "../context.js";

export function snapshotCommand(ctx: CommandContext) {
  return new Command("snapshot")
    .description("snapshot Master now (git tag snapshot/<name> + tar.gz)")
    .option("--name <name>", "snapshot name (default: snap_<time>)")
    .action(async (opts) => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const s = await env.snapshotMaster(opts.name);
        out.result(`snapshot ${s.name} @ ${s.commit.slice(0, 10)}${s.archive ? ` (${s.archive})` : ""}`, s);
      });
    });
}

export function snapshotsCommand(ctx: CommandContext) {
  return new Command("snapshots").description("list Master's snapshots").action(async () => {
    const out = ctx.output();
    await withEnvironment(ctx.root(), out, async (env) => {
      const all = env.listSnapshots();
      const lines = all.map((s) => `${s.name.padEnd(40)} ${s.commit.slice(0, 10)}  ${s.createdAt}`);
      out.result(lines.length ? lines.join("\n") : "no snapshots yet", { snapshots: all });
    });
  });
}

export function rollbackCommand(ctx: CommandContext) {
  return new Command("rollback")
    .description("restore Master exactly to a snapshot (its current state is snapshotted first)")
    .argument("<name>", "snapshot name (see `odibi-improve snapshots`)")
    .action(async (name) => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const r = await env.rollbackMaster(name);
        out.result(
          `Master restored to ${r.snapshot.name} @ ${r.snapshot.commit.slice(0, 10)} (tree verified).\nThe state before the rollback is kept as snapshot ${r.safety.name}.`,
          r,
        );
      });
    });
}
