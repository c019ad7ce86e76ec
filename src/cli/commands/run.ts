import { Command, Option } from "@commander-js/extra-typings";
import { type CampaignEvent, type CampaignOutcome, CampaignRunner } from "../../campaign/runner.js";
import { CAMPAIGN_LIMITS, VERIFICATIONS } from "../../config/index.js";
import { openCampaignState } from "../../events/read-model.js";
import { RunLog } from "../../events/run-log.js";
import { LLM_PROVIDERS } from "../../llm/providers/index.js";
import { processRedactor } from "../../llm/redact.js";
import { defaultVenvDir } from "../../pyenv/python-env.js";
import { connectRemoteAttempts } from "../../remote/coordinator.js";
import type { CommandContext } from "../context.js";
import { withEnvironment } from "../context.js";
import { detachedRun } from "./detach.js";
import { makeLlmImprover } from "./llm-improver.js";

const list = (v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** What a person reading the log wants of a step (the rest is in --json and the journal). */
function describeStep(step: string, data: Record<string, unknown> = {}): string | undefined {
  const files = (data.files as string[] | undefined) ?? [];
  switch (step) {
    case "gates_before": {
      const needs = (data.needs as string[] | undefined) ?? [];
      return `baseline (Master): ${data.failing ?? 0} failing check(s)${data.environment ? `, ${data.environment} of them for want of a dependency (${needs.slice(0, 3).join(", ")}${needs.length > 3 ? ", …" : ""}): not work` : ""}`;
    }
    case "work_found":
      return data.task ? `task: ${data.task}` : undefined;
    case "attempt_done":
      return `tried ${data.approach}: ${files.length ? `changed ${files.slice(0, 5).join(", ")}${files.length > 5 ? ", …" : ""}` : "no change"}`;
    case "snapshot_done":
      return `snapshot ${data.snapshot}`;
    case "promote_done":
      return `Master → ${String(data.commit).slice(0, 10)}`;
    default:
      return undefined;
  }
}

const MAX_LOG_LINE = 160;

const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";

/**
 * One line per event: readable in a log file (runs are unattended), or JSON lines with --json. On a terminal a
 * live line under the log also shows what is running now (cycle i/N, the gate command, elapsed / budget),
 * refreshed every second, so a 20-minute test suite does not look like a hang.
 */
export function progressPrinter(
  json: boolean,
  budget: { maxHours: number /** running hours before this run (`--resume`) */; spentHours?: number },
  stream: NodeJS.WriteStream = process.stdout,
  runLog?: (line: string) => void,
) {
  // The campaign's running time, as its time budget counts it: a resumed run starts from the hours already spent.
  const started = Date.now() - (budget.spentHours ?? 0) * 3_600_000;
  const elapsed = () => {
    const s = Math.round((Date.now() - started) / 1000);
    return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  };
  const live = !json && stream.isTTY === true;
  let cycle = "";
  let activity = "";
  let activitySince = Date.now();
  let frame = 0;
  let parallel = false;
  let timer: NodeJS.Timeout | undefined;
  const clearLive = () => {
    if (live) stream.write("\r\x1b[2K");
  };
  const renderLive = () => {
    if (!live || !activity) return;
    const forS = Math.round((Date.now() - activitySince) / 1000);
    const text = `${SPINNER[frame++ % SPINNER.length]} ${elapsed()} / ${budget.maxHours}h · ${cycle}${cycle ? " · " : ""}${activity} (${forS}s)`;
    stream.write(`\r\x1b[2K${text.slice(0, Math.max(20, (stream.columns || 100) - 1))}`);
  };
  const setActivity = (text: string) => {
    activity = text;
    activitySince = Date.now();
    if (live && !timer) {
      timer = setInterval(renderLive, 1000).unref();
      process.once("exit", clearLive); // an error message then starts on a clean line
    }
  };
  return (event: CampaignEvent) => {
    // The run log (usually redirected to a file): redacted before any line is cut short.
    const e = processRedactor().value(event);
    if (json) stream.write(`${JSON.stringify({ at: new Date().toISOString(), ...e })}\n`);
    const t = `[${elapsed()} / ${budget.maxHours}h]`;
    // The run log (runLog) gets these lines also when the terminal gets JSON.
    const line = (text: string) => {
      const l = `${t} ${text.length > MAX_LOG_LINE ? `${text.slice(0, MAX_LOG_LINE - 1)}…` : text}`;
      runLog?.(l);
      if (json) return;
      clearLive();
      stream.write(`${l}\n`);
    };
    // With several workers, cycles interleave: each of their lines names its cycle.
    if (e.type === "cycle" && e.worker !== undefined) parallel = true;
    const of = (c: number) => (parallel ? `[cycle ${c}] ` : "");
    if (e.type === "cycle") {
      cycle = `cycle ${e.index}/${e.of}`;
      line(`cycle ${e.cycle} (${e.index}/${e.of})${e.worker !== undefined ? ` on worker ${e.worker}` : ""}`);
    } else if (e.type === "step") {
      setActivity(e.step.replace(/_/g, " "));
      const d = describeStep(e.step, e.data);
      if (d) line(`  ${of(e.cycle)}${d}`);
    } else if (e.type === "decision") {
      line(`  ${of(e.cycle)}→ ${e.action}: ${e.task}`);
      line(`    ${e.reason}`);
    } else if (e.type === "log") {
      if (e.message.startsWith("[")) setActivity(e.message);
      line(`  ${e.message}`);
    } else if (e.type === "end") {
      if (timer) clearInterval(timer);
      timer = undefined;
      activity = "";
      line(`campaign ended: ${e.reason}`);
      return;
    }
    renderLive();
  };
}

/** What `run` and `demo` end with (their JSON result): the campaign, why it ended, its counts and report. */
export function campaignSummary(r: CampaignOutcome) {
  return {
    campaignId: r.campaignId,
    reason: r.reason,
    counts: { cycles: r.cycles, promoted: r.promoted, rejected: r.rejected },
    reportPath: r.reportPath ?? null,
  };
}

export function runCommand(ctx: CommandContext) {
  return new Command("run")
    .description(
      "run an improvement campaign on Master (unattended; stop with `odibi-improve stop` or Ctrl-C)",
    )
    .option("--max-cycles <n>", "stop after N cycles", Number)
    .option("--max-hours <h>", "stop after H hours", Number)
    .option("--convergence <n>", "stop after N cycles that learned nothing", Number)
    .option("--goal <text>", "what the campaign should aim for (given to the LLM)")
    .option("--focus-transformers <names>", "comma-separated transformers to work on first", list)
    .option("--focus-patterns <names>", "comma-separated patterns to work on first", list)
    .option("--no-llm", "deterministic fixers only, even when an LLM is configured")
    .option("--resume", "continue the last campaign (after a crash or a stop)")
    .addOption(new Option("--llm-provider <name>", "LLM provider").choices(LLM_PROVIDERS))
    .option("--llm-model <model>", "model name (default: llm.model, gpt-4o-mini)")
    .option("--max-attempts <n>", "LLM attempts per cycle", Number)
    .option("--llm-base-url <url>", "the provider's base URL (Ollama, a proxy, an OpenAI-compatible server)")
    .option(
      "--workers <n>",
      "tasks worked on at once, each in its own sandbox (default campaign.workers)",
      Number,
    )
    .addOption(
      new Option(
        "--verification <how>",
        "candidate: each gated fully; batch: one full run per batch of queued candidates (default campaign.verification)",
      ).choices(VERIFICATIONS),
    )
    .option(
      "--queue <redis-url>",
      "model attempts go to workers on other machines (`odibi-improve worker --queue <redis-url>`) through BullMQ on this Redis",
    )
    .option("--detach", "start the campaign in the background and print where its log is")
    .action(async (opts) => {
      const out = ctx.output();
      if (opts.detach) return detachedRun(ctx, opts);
      if (opts.queue !== undefined && opts.llm === false)
        throw ctx.usage("--queue sends model attempts to workers: it cannot go with --no-llm");
      await withEnvironment(ctx.root(), out, async (env) => {
        for (const [k, v, max] of [
          ["--max-cycles", opts.maxCycles, CAMPAIGN_LIMITS.maxCycles],
          ["--max-hours", opts.maxHours, CAMPAIGN_LIMITS.maxHours],
          ["--convergence", opts.convergence, CAMPAIGN_LIMITS.convergence],
          ["--max-attempts", opts.maxAttempts, CAMPAIGN_LIMITS.maxAttempts],
          ["--workers", opts.workers, CAMPAIGN_LIMITS.workers],
        ] as const)
          if (v !== undefined && (!Number.isFinite(v) || v <= 0 || v > max))
            throw ctx.usage(`${k} takes a positive number, at most ${max}`);
        const remote =
          opts.queue === undefined
            ? undefined
            : await connectRemoteAttempts(env, {
                url: opts.queue,
                venv: defaultVenvDir(),
                llm: opts,
                log: (l) => out.line(l),
              });
        const llm =
          remote?.improver ??
          (opts.llm === false ? undefined : makeLlmImprover(env, opts, (l) => out.line(l)));
        const maxHours = opts.maxHours ?? env.config.stop_conditions.max_hours;
        const abort = new AbortController();
        const onSig = () => {
          out.warn("stop requested: finishing the current step, then stopping (again to force)");
          if (abort.signal.aborted) process.exit(3);
          abort.abort();
        };
        // SIGHUP: the terminal or console window closed; SIGBREAK: Ctrl+Break on Windows.
        const signals = [
          "SIGINT",
          "SIGTERM",
          "SIGHUP",
          ...(process.platform === "win32" ? ["SIGBREAK"] : []),
        ];
        for (const s of signals) process.on(s, onSig);
        try {
          let runner: CampaignRunner | undefined;
          const runLog = new RunLog(env.guard, env.layout.logs, () => runner?.id ?? "");
          runner = new CampaignRunner(env, {
            maxCycles: opts.maxCycles,
            maxHours: opts.maxHours,
            convergence: opts.convergence,
            goal: opts.goal ?? env.config.campaign.goal,
            focus: [
              ...(opts.focusTransformers ?? env.config.campaign.focus_transformers),
              ...(opts.focusPatterns ?? env.config.campaign.focus_patterns),
            ],
            resume: opts.resume,
            workers: opts.workers,
            verification: opts.verification,
            llm,
            signal: abort.signal,
            onEvent: progressPrinter(
              ctx.json(),
              {
                maxHours,
                spentHours: opts.resume ? (openCampaignState(env.root).status?.status.elapsed_hours ?? 0) : 0,
              },
              process.stdout,
              runLog.line,
            ),
          });
          const r = await runner.run();
          const summary = `\nCampaign ${r.campaignId}: ${r.reason}. ${r.cycles} cycle(s), ${r.promoted} promoted, ${r.rejected} rejected.\nReport: ${r.reportPath}`;
          runLog.line(summary.trimStart());
          out.result(summary, campaignSummary(r), r.exitCode);
        } finally {
          for (const s of signals) process.off(s, onSig);
          await remote?.close();
        }
      });
    });
}
