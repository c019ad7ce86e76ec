import path from "node:path";
import { type RunOptions, runArgs, startDetachedRun } from "../../dashboard/launch.js";
import type { CommandContext } from "../context.js";
import { withEnvironment } from "../context.js";

/** `run --detach`: the same run as a background process of its own; prints its pid and where its log is. */
export async function detachedRun(ctx: CommandContext, opts: RunOptions): Promise<void> {
  const out = ctx.output();
  await withEnvironment(ctx.root(), out, async (env) => {
    const r = await startDetachedRun(env.root, env.guard, runArgs(opts));
    out.result(
      [
        `campaign ${r.campaign ?? "(starting)"} running in the background: pid ${r.pid}`,
        `log: ${r.log ?? path.join(r.logs, "<campaign>.log")}`,
        `the process's own output: ${r.output}`,
        "follow it with `odibi-improve status` or `odibi-improve ui`; stop it with `odibi-improve stop`",
      ].join("\n"),
      { detached: true, pid: r.pid, campaign: r.campaign ?? null, log: r.log ?? null, output: r.output },
    );
  });
}
