import { setTimeout as sleep } from "node:timers/promises";
import { generateText, type ModelMessage, type ToolSet } from "ai";
import { classifyLlmError, retryAfterMs } from "./classify-error.js";
import { LlmError } from "./errors.js";
import { costOf, priceFor } from "./pricing.js";
import { resolveModel } from "./provider-factory.js";
import { addProcessSecrets, createRedactor, type Redactor, secretsInEnvironment } from "./redact.js";
import type { LlmSettings, ModelPrice, TokenUsage } from "./types.js";

export interface LlmToolCall {
  toolCallId: string;
  toolName: string;
  /** Parsed arguments; for an invalid call whatever the model sent. */
  input: unknown;
  /** Set when the arguments were not valid JSON or did not match the tool's schema (or the tool is unknown). */
  invalidReason?: string;
}

export interface LlmStepRequest {
  system: string;
  messages: ModelMessage[];
  /** Tools without `execute`: the caller runs them (so that it can confine, cap, log and time them). */
  tools: ToolSet;
  signal?: AbortSignal;
  /** Called before each retry with the reason and the wait. */
  onRetry?: (info: { retry: number; delayMs: number; error: LlmError }) => void;
}

export interface LlmStepResult {
  text: string;
  toolCalls: LlmToolCall[];
  /** The assistant message(s) to append to the conversation. */
  assistantMessages: ModelMessage[];
  usage: TokenUsage;
  /** USD; undefined when the model is unpriced. */
  costUsd?: number;
  finishReason: string;
  /** Retries this step needed. */
  retries: number;
  /** The SDK's warnings (unsupported settings and the like), for the trajectory instead of the console. */
  warnings: string[];
}

export interface LlmClient {
  readonly settings: LlmSettings;
  /** Where requests go (never contains a key). */
  readonly endpoint: string;
  readonly price?: ModelPrice;
  /** Redacts the key this client read and every secret of its environment; use it on everything written. */
  readonly redactor: Redactor;
  /** Environment variables holding secrets: drop them from the environment of gate processes. */
  readonly secretEnvNames: string[];
  /** One model call (one step), with retries on transient failures and a per-request timeout. */
  step(req: LlmStepRequest): Promise<LlmStepResult>;
}

export interface CreateLlmClientOptions {
  /** Where keys are read from. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Abortable wait; resolves early (without throwing) when the signal fires, the caller then checks it. */
async function wait(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => {});
}

/**
 * The one entry point to a model. Throws LlmError (typed kind + hint) for missing keys and bad configuration
 * here, and from `step` for auth, model-not-found, and transient failures that outlasted the retries.
 */
export function createLlmClient(settings: LlmSettings, opts: CreateLlmClientOptions = {}): LlmClient {
  // The SDK prints warnings on stdout/stderr, which would corrupt `--json` output and unattended logs; each step
  // returns them instead and the brain writes them to the trajectory. A logger the user installed is kept.
  const g = globalThis as { AI_SDK_LOG_WARNINGS?: unknown };
  if (g.AI_SDK_LOG_WARNINGS === undefined) g.AI_SDK_LOG_WARNINGS = false;
  const env = opts.env ?? process.env;
  const resolved = resolveModel(settings, env);
  const price = priceFor(settings.model, settings.prices);
  const redactor = createRedactor([...resolved.secrets, ...secretsInEnvironment(env)]);
  // The key is redacted from everything the process writes, and unset for unjailed commands, whatever its name.
  addProcessSecrets(resolved.secrets);

  async function once(req: LlmStepRequest): Promise<Omit<LlmStepResult, "retries">> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), settings.requestTimeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal;
    try {
      const r = await generateText({
        model: resolved.model,
        // Whatever reached the conversation (tool output, file contents, the model's own words), no secret leaves.
        system: redactor.text(req.system),
        messages: redactor.value(req.messages),
        tools: req.tools,
        // Retries are ours: the SDK's fixed 2 s start cannot be configured, and we log each one.
        maxRetries: 0,
        abortSignal: signal,
      });
      const usage = { inputTokens: r.usage.inputTokens ?? 0, outputTokens: r.usage.outputTokens ?? 0 };
      return {
        text: r.text,
        toolCalls: r.toolCalls.map((c) => {
          const call = c as typeof c & { invalid?: boolean; error?: unknown };
          return {
            toolCallId: c.toolCallId,
            toolName: c.toolName,
            input: c.input,
            invalidReason: call.invalid
              ? redactor.text(String((call.error as Error)?.message ?? call.error))
              : undefined,
          };
        }),
        assistantMessages: r.response.messages.filter((m) => m.role === "assistant"),
        usage,
        costUsd: costOf(usage, price),
        finishReason: r.finishReason,
        warnings: (r.warnings ?? []).map((w) => redactor.text(JSON.stringify(w))),
      };
    } catch (err) {
      const e = classifyLlmError(err, {
        provider: settings.provider,
        model: settings.model,
        endpoint: resolved.endpoint,
        keyEnv: resolved.keyEnv,
        timedOut: timeout.signal.aborted && !req.signal?.aborted,
        timeoutMs: settings.requestTimeoutMs,
        aborted: req.signal?.aborted ?? false,
      });
      (e as { retryAfterMs?: number }).retryAfterMs = retryAfterMs(err);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    settings,
    endpoint: resolved.endpoint,
    price,
    redactor,
    secretEnvNames: resolved.keyEnv ? [resolved.keyEnv] : [],
    async step(req) {
      for (let retry = 0; ; retry++) {
        try {
          return { ...(await once(req)), retries: retry };
        } catch (err) {
          const e = err as LlmError & { retryAfterMs?: number };
          if (!e.transient || retry >= settings.maxRetries || req.signal?.aborted) {
            throw new LlmError(
              e.kind,
              redactor.text(retry > 0 ? `${e.message} (after ${retry} retries)` : e.message),
              {
                hint: e.hint,
                status: e.status,
                transient: e.transient,
              },
            );
          }
          const backoff = Math.min(settings.maxRetryDelayMs, settings.retryInitialDelayMs * 2 ** retry);
          // A server's retry-after wins, within reason (a minute), like the SDK's own policy.
          const delayMs = e.retryAfterMs !== undefined && e.retryAfterMs <= 60_000 ? e.retryAfterMs : backoff;
          req.onRetry?.({ retry: retry + 1, delayMs, error: e });
          await wait(delayMs, req.signal);
        }
      }
    },
  };
}
