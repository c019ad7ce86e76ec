import { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import { withEnvironment } from "../context.js";

export function sandboxCommand(ctx: CommandContext) {
  const cmd = new Command("sandbox").description("sandboxes: disposable copies of Master (for debugging)");
  cmd
    .command("create")
    .argument("<id>", "cycle number or name")
    .action(async (id) => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const s = await env.createSandbox(id);
        out.result(`sandbox ${s.id} at ${s.path} (Master @ ${s.baseCommit.slice(0, 10)})`, s);
      });
    });
  cmd
    .command("destroy")
    .argument("<id>", "cycle number or name")
    .action(async (id) => {
      const out = ctx.output();
      await withEnvironment(ctx.root(), out, async (env) => {
        const s = env.getSandbox(id);
        await env.destroySandbox(s);
        out.result(`sandbox ${s.id} destroyed`, { destroyed: s.id });
      });
    });
  cmd.command("list").action(async () => {
    const out = ctx.output();
    await withEnvironment(ctx.root(), out, async (env) => {
      const all = env.listSandboxes();
      out.result(all.length ? all.map((s) => `${s.id.padEnd(16)} ${s.path}`).join("\n") : "no sandboxes", {
        sandboxes: all,
      });
    });
  });
  return cmd;
}
