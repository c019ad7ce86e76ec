import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import path from "node:path";

/** Debian's redis-server (`apt-get install redis-server`), or undefined. */
export const REDIS_SERVER =
  spawnSync("redis-server", ["--version"]).status === 0 ? "redis-server" : undefined;

/** A free loopback port (taken by the OS, then released for the server). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A real Redis on a random loopback port, in memory only; `close` stops it. */
export async function startRedis(): Promise<{ url: string; port: number; close(): Promise<void> }> {
  if (!REDIS_SERVER) throw new Error("redis-server is not installed (apt-get install redis-server)");
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const child: ChildProcess = spawn(
      REDIS_SERVER,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    const ready = await new Promise<boolean>((resolve) => {
      child.stdout?.on("data", (d) => {
        out += String(d);
        if (out.includes("Ready to accept connections")) resolve(true);
      });
      child.on("exit", () => resolve(false));
    });
    if (ready)
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        async close() {
          if (child.exitCode === null) {
            child.kill("SIGTERM");
            await once(child, "exit");
          }
        },
      };
    if (tries >= 3) throw new Error(`redis-server would not start: ${out.slice(-2000)}`);
  }
}

const CLI = path.resolve(import.meta.dirname, "..", "bin", "odibi-improve.js");

/** `node <cli> worker` on `url` with its mirrors in `dir`, asking the scripted model served at `llmOrigin`. */
export function workerCommand(url: string, llmOrigin: string, dir: string, extra: string[] = []): string[] {
  const llm = ["--llm-provider", "openai-compatible", "--llm-base-url", `${llmOrigin}/v1`];
  return [CLI, "worker", "--queue", url, "--dir", dir, ...llm, "--llm-model", "scripted", ...extra];
}
