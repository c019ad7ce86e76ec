/**
 * The LLM vocabulary. No dependencies on any SDK: the brain, the campaign and the CLI speak these types; only
 * `provider-factory.ts` and `client.ts` know the Vercel AI SDK.
 */

export const LLM_PROVIDERS = ["openai", "azure", "anthropic", "ollama", "openai-compatible"] as const;
export type LlmProviderName = (typeof LLM_PROVIDERS)[number];

/** USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
}

export interface AzureSettings {
  /** `<resource>.openai.azure.com`; used when no base URL (endpoint) is given. */
  resourceName?: string;
  /** The deployment name; defaults to the model name. */
  deployment?: string;
  /**
   * A dated version (`2024-10-21`) selects the classic deployment URLs
   * (`/openai/deployments/<deployment>/chat/completions?api-version=…`); unset or `v1` the v1 API.
   */
  apiVersion?: string;
}

/** Everything needed to talk to one model. Resolved from config.yaml `llm:` and the CLI flags. */
export interface LlmSettings {
  provider: LlmProviderName;
  /** The model name used for pricing and (except Azure deployments) for the request. */
  model: string;
  baseUrl?: string;
  /** Name of the environment variable holding the key; default depends on the provider (see defaultKeyEnv). */
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

export type LlmErrorKind =
  | "missing_key"
  | "auth"
  | "model_not_found"
  | "bad_request"
  | "rate_limited"
  | "unavailable"
  | "timeout"
  | "network"
  | "config"
  | "aborted"
  | "unknown";
