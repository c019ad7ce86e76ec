/**
 * The LLM vocabulary (types only): the brain, the campaign and the CLI speak these types; only the provider specs
 * (`providers/`) and `client.ts` know the Vercel AI SDK.
 */

import type { AzureSettings, LlmProviderName, ModelPrice } from "./providers/index.js";

export type { AzureSettings, LlmProviderName, ModelPrice } from "./providers/index.js";

/** Everything needed to talk to one model. Resolved from config.yaml `llm:` and the CLI flags. */
export interface LlmSettings {
  provider: LlmProviderName;
  /** The model name used for pricing and (except Azure deployments) for the request. */
  model: string;
  baseUrl?: string;
  /** Name of the environment variable holding the key; default: the provider's (src/llm/providers). */
  apiKeyEnv?: string;
  azure?: AzureSettings;
  /** Per HTTP request (one model step), retries included separately. */
  requestTimeoutMs: number;
  /** Retries after the first try on 429 / 5xx / timeouts / connection errors. */
  maxRetries: number;
  /** First backoff delay; doubles each retry, capped at maxRetryDelayMs. A `retry-after` header wins. */
  retryInitialDelayMs: number;
  maxRetryDelayMs: number;
  /** Overrides (and extends) the built-in price table, by model name. */
  prices?: Record<string, ModelPrice>;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export type { LlmErrorKind } from "./errors.js";
