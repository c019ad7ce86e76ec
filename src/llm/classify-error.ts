import { APICallError, LoadAPIKeyError, NoSuchModelError } from "ai";
import { errorMessage } from "../core/errors.js";
import { LlmError } from "./errors.js";
import { providerSpec } from "./providers/index.js";
import type { LlmProviderName } from "./types.js";

export interface ErrorContext {
  provider: LlmProviderName;
  model: string;
  endpoint: string;
  keyEnv?: string;
  /** True when our own per-request timeout fired (not the caller's stop signal). */
  timedOut: boolean;
  timeoutMs: number;
  /** True when the caller's signal (stop request, attempt wall time) aborted the request. */
  aborted: boolean;
}

const MODEL_MISSING =
  /model.*(not (be )?found|does not exist|not exist|unknown|no such)|deployment.*(not found|does not exist)/i;

/** The provider's own words, shortened; they often say exactly what is wrong. */
function providerSays(err: APICallError): string {
  const msg = err.message.replace(/\s+/g, " ").trim();
  return msg.length > 300 ? `${msg.slice(0, 300)}…` : msg;
}

/** One SDK or network failure → an LlmError with a kind and a hint naming what to do. */
export function classifyLlmError(err: unknown, ctx: ErrorContext): LlmError {
  if (err instanceof LlmError) return err;
  const where = `${ctx.provider} at ${ctx.endpoint}`;
  if (ctx.aborted) return new LlmError("aborted", `request to ${where} stopped`, { cause: err });
  if (ctx.timedOut) {
    return new LlmError("timeout", `no answer from ${where} within ${Math.round(ctx.timeoutMs / 1000)}s`, {
      hint: "The model or server is slow or stuck: raise llm.request_timeout_seconds or use a faster model.",
    });
  }
  if (LoadAPIKeyError.isInstance(err)) {
    return new LlmError("missing_key", `no API key for ${ctx.provider}: ${err.message}`, {
      hint: "Set the provider's key in the environment, or name the variable with llm.api_key_env.",
    });
  }
  if (NoSuchModelError.isInstance(err)) {
    return new LlmError("model_not_found", `${ctx.provider} has no model "${ctx.model}"`, {
      hint: "Check llm.model / --llm-model.",
    });
  }
  if (APICallError.isInstance(err) && err.statusCode === undefined) {
    // No HTTP answer at all: the SDK wraps connection failures ("Cannot connect to API") this way.
    return networkError(err, where, ctx);
  }
  if (APICallError.isInstance(err)) {
    const status = err.statusCode;
    const says = providerSays(err);
    if (status === 401 || status === 403) {
      return new LlmError("auth", `${where} rejected the API key (HTTP ${status}: ${says})`, {
        status,
        hint: `Check that ${ctx.keyEnv ?? "the key variable"} holds a valid key for this endpoint${providerSpec(ctx.provider).hints?.authScope ?? ""}, and that it may use model "${ctx.model}".`,
      });
    }
    if (status === 404 || (status === 400 && MODEL_MISSING.test(says))) {
      return new LlmError(
        "model_not_found",
        `${where} does not know model "${ctx.model}" (HTTP ${status}: ${says})`,
        {
          status,
          hint:
            providerSpec(ctx.provider).hints?.modelNotFound?.(ctx.model) ??
            "Check llm.model / --llm-model and the base URL.",
        },
      );
    }
    if (status === 429)
      return new LlmError("rate_limited", `${where} is rate limiting (HTTP 429: ${says})`, { status });
    if (status !== undefined && status >= 500) {
      return new LlmError("unavailable", `${where} failed (HTTP ${status}: ${says})`, {
        status,
        hint: "The provider is having trouble; the campaign can be resumed later.",
      });
    }
    if (status === 408) return new LlmError("timeout", `${where} timed out (HTTP 408)`, { status });
    return new LlmError("bad_request", `${where} refused the request (HTTP ${status ?? "?"}: ${says})`, {
      status,
      transient: err.isRetryable,
    });
  }
  const msg = errorMessage(err);
  const cause = err instanceof Error && err.cause ? ` (${errorMessage(err.cause)})` : "";
  if (/fetch failed|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|socket|network/i.test(msg + cause)) {
    return networkError(err, where, ctx);
  }
  return new LlmError("unknown", `${where}: ${msg}${cause}`, { cause: err });
}

function networkError(err: unknown, where: string, ctx: ErrorContext): LlmError {
  const cause = err instanceof Error && err.cause ? ` (${errorMessage(err.cause)})` : "";
  return new LlmError("network", `cannot reach ${where}: ${errorMessage(err)}${cause}`, {
    hint: providerSpec(ctx.provider).hints?.network ?? "Check the base URL and the network connection.",
  });
}

/** The delay a `retry-after-ms` / `retry-after` header asks for, if any. */
export function retryAfterMs(err: unknown): number | undefined {
  const cause = err instanceof LlmError ? err.cause : err;
  if (!APICallError.isInstance(cause)) return undefined;
  const h = cause.responseHeaders ?? {};
  const ms = h["retry-after-ms"] !== undefined ? Number.parseFloat(h["retry-after-ms"]) : Number.NaN;
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const after = h["retry-after"];
  if (after === undefined) return undefined;
  const s = Number.parseFloat(after);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(after);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
