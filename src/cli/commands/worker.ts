import path from "node:path";
import { Command, Option } from "@commander-js/extra-typings";
import { LLM_PROVIDERS } from "../../llm/providers/index.js";
import { defaultVenvDir, userCache } from "../../pyenv/python-env.js";
import { runWorker } from "../../remote/worker.js";
import type { CommandContext } from "../context.js";

export function workerCommand(ctx: CommandContext) {
  return new Command("worker")
    .description(
      "run model attempts for a coordinator (`odibi-improve run --queue <redis-url>`) on this machine; it never promotes",
    )
    .requiredOption("--queue <redis-url>", "the coordinator's Redis (redis://host:port)")
    .option(
      "--dir <folder>",
      "where this worker keeps its mirrors of the coordinator's Master (default: the user cache)",
    )
    .option("--concurrency <n>", "attempts run at once (default 1)", Number)
    .option(
      "--lock-seconds <s>",
      "a job held by a worker that stopped answering goes to another after this long (default 30)",
      Number,
    )
    .addOption(
      new Option(
        "--isolation <mode>",
        "how this machine jails the attempts' code (the coordinator's config never decides it)",
      )
        .choices(["auto", "bwrap", "none"] as const)
        .default("auto" as const),
    )
    .option("--wait-seconds <s>", "give up when no coordinator published its manifest by then", Number)
    .addOption(new Option("--llm-provider <name>", "LLM provider").choices(LLM_PROVIDERS))
    .option("--llm-model <model>", "model name (default: the coordinator's llm.model)")
    .option("--max-attempts <n>", "LLM attempts per job", Number)
    .option("--llm-base-url <url>", "the provider's base URL (Ollama, a proxy, an OpenAI-compatible server)")
    .action(async (opts) => {
      const out = ctx.output();
      for (const [k, v] of [
        ["--concurrency", opts.concurrency],
        ["--lock-seconds", opts.lockSeconds],
        ["--wait-seconds", opts.waitSeconds],
      ] as const)
        if (v !== undefined && (!Number.isFinite(v) || v <= 0))
          throw ctx.usage(`${k} takes a positive number`);
      const abort = new AbortController();
      const onSig = () => {
        out.warn("stopping: the jobs held are finished first (again to force)");
        if (abort.signal.aborted) process.exit(3);
        abort.abort();
      };
      const signals = ["SIGINT", "SIGTERM", "SIGHUP", ...(process.platform === "win32" ? ["SIGBREAK"] : [])];
      for (const s of signals) process.on(s, onSig);
      try {
        const r = await runWorker({
          url: opts.queue,
          root: path.resolve(opts.dir ?? userCache(".worker", "worker")),
          venv: defaultVenvDir(),
          llm: opts,
          isolation: opts.isolation,
          concurrency: opts.concurrency ?? 1,
          lockMs: (opts.lockSeconds ?? 30) * 1000,
          ...(opts.waitSeconds !== undefined ? { waitMs: opts.waitSeconds * 1000 } : {}),
          signal: abort.signal,
          log: (l) => out.line(l),
        });
        out.result(`worker stopped after ${r.jobs} job(s)`, r);
      } finally {
        for (const s of signals) process.off(s, onSig);
      }
    });
}
