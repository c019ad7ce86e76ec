import { randomBytes } from "node:crypto";
import { Command } from "@commander-js/extra-typings";
import { isLoopbackHost, serveDashboard } from "../../dashboard/server.js";
import { ImprovementEnvironment } from "../../environment/environment.js";
import type { CommandContext } from "../context.js";
import { resolveRoot } from "../context.js";

/**
 * `ui`: the campaign dashboard on a local port until Ctrl-C. Loopback by default; any other host needs a token (the
 * one given with --token, else a new one), printed in the URL to open.
 */
export function uiCommand(ctx: CommandContext) {
  return new Command("ui")
    .description("serve the campaign dashboard (status, cycles, reports, diffs, live log, start/stop)")
    .option("--port <n>", "port (0: any free port)", Number, 8765)
    .option("--host <address>", "address to listen on (not loopback: a token is required)", "127.0.0.1")
    .option("--token <token>", "require this token on every request (default: a new one when not loopback)")
    .action(async (opts) => {
      const out = ctx.output();
      if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65_535)
        throw ctx.usage("--port takes a port number (0-65535)");
      if (opts.token !== undefined && opts.token.length < 16)
        throw ctx.usage("--token must be at least 16 characters");
      const env = ImprovementEnvironment.open(resolveRoot(ctx.root()));
      const loopback = isLoopbackHost(opts.host);
      const token = opts.token ?? (loopback ? undefined : randomBytes(24).toString("base64url"));
      const server = await serveDashboard({ env, token, loopback, host: opts.host, port: opts.port });
      const url = token ? `${server.url}?token=${token}` : server.url;
      out.result(`dashboard of ${env.root}: ${url}\n(Ctrl-C to stop)`, {
        url,
        port: server.port,
        root: env.root,
      });
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void server.close().then(resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
