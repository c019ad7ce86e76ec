import { UsageError } from "../core/errors.js";
import { inferProvider, LLM_PROVIDERS } from "./providers/index.js";
import type { LlmProviderName, LlmSettings, ModelPrice } from "./types.js";

/** The limits of one brain call and of the campaign's LLM spending (config `llm:` + flags). */
export interface LlmRunLimits {
  /** LLM attempts per cycle; 0 disables the brain. */
  maxAttempts: number;
  /** Model steps (requests) per attempt. */
  maxSteps: number;
  /** Wall time per attempt, gate runs included. */
  attemptTimeoutMs: number;
  /** Tokens (input + output, summed over the attempt's requests) after which no further request of it starts. */
  maxAttemptTokens: number;
  /** Tokens (input + output) per campaign; undefined = no limit. */
  maxTokens?: number;
  /** USD per campaign; undefined = no limit. Only priced models count toward it. */
  maxCostUsd?: number;
}

export interface LlmOptions {
  settings: LlmSettings;
  limits: LlmRunLimits;
}

/** The flags `odibi-improve run` offers (commander's camelCase names). Leave them without commander defaults. */
export interface LlmFlags {
  llmProvider?: string;
  llmModel?: string;
  maxAttempts?: number | string;
  llmBaseUrl?: string;
}

export const DEFAULT_RETRY_INITIAL_DELAY_MS = 1000;
export const DEFAULT_MAX_RETRY_DELAY_MS = 30_000;

/** config.yaml's `llm:` section as read here (the config schema's LlmSection satisfies it). */
export interface LlmConfig {
  provider?: LlmProviderName;
  model: string;
  base_url?: string;
  api_key_env?: string;
  azure?: { resource_name?: string; deployment?: string; api_version?: string };
  request_timeout_seconds: number;
  max_retries: number;
  prices?: Record<string, ModelPrice>;
  max_attempts: number;
  max_steps: number;
  attempt_timeout_seconds: number;
  max_attempt_tokens: number;
  max_tokens?: number;
  max_cost_usd?: number;
}

function parseProvider(value: string): LlmProviderName {
  if ((LLM_PROVIDERS as readonly string[]).includes(value)) return value as LlmProviderName;
  throw new UsageError(`unknown LLM provider "${value}"`, `Use one of: ${LLM_PROVIDERS.join(", ")}.`);
}

function parseBaseUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === "http:" || url.protocol === "https:") return value;
  } catch {
    // reported below
  }
  throw new UsageError(
    `--llm-base-url "${value}" is not an http(s) URL`,
    "Give a full URL, e.g. http://localhost:11434/v1.",
  );
}

function parseAttempts(value: number | string): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new UsageError(
      `--max-attempts "${value}" is not a whole number ≥ 0`,
      "0 disables LLM attempts; the default is 3.",
    );
  }
  return n;
}

/** The `llm:` section of config.yaml as settings and limits (flags not applied). */
export function llmOptionsFromConfig(llm: LlmConfig): LlmOptions {
  return {
    settings: {
      provider: llm.provider ?? inferProvider(llm.model, llm.base_url),
      model: llm.model,
      baseUrl: llm.base_url,
      apiKeyEnv: llm.api_key_env,
      azure: llm.azure && {
        resourceName: llm.azure.resource_name,
        deployment: llm.azure.deployment,
        apiVersion: llm.azure.api_version,
      },
      requestTimeoutMs: llm.request_timeout_seconds * 1000,
      maxRetries: llm.max_retries,
      retryInitialDelayMs: DEFAULT_RETRY_INITIAL_DELAY_MS,
      maxRetryDelayMs: DEFAULT_MAX_RETRY_DELAY_MS,
      prices: llm.prices,
    },
    limits: {
      maxAttempts: llm.max_attempts,
      maxSteps: llm.max_steps,
      attemptTimeoutMs: llm.attempt_timeout_seconds * 1000,
      maxAttemptTokens: llm.max_attempt_tokens,
      maxTokens: llm.max_tokens,
      maxCostUsd: llm.max_cost_usd,
    },
  };
}

/**
 * Flags over config: `--llm-provider`, `--llm-model`, `--max-attempts`, `--llm-base-url`. A flag left unset keeps
 * the config value (whose model default is gpt-4o-mini), so register the flags without commander defaults.
 * Throws UsageError (exit 2) for an unknown provider, a bad URL or a bad attempt count.
 */
export function llmOptionsFromFlags(flags: LlmFlags, config: { llm: LlmConfig }): LlmOptions {
  const base = llmOptionsFromConfig(config.llm);
  const model = flags.llmModel ?? base.settings.model;
  const baseUrl = flags.llmBaseUrl !== undefined ? parseBaseUrl(flags.llmBaseUrl) : base.settings.baseUrl;
  const provider =
    flags.llmProvider !== undefined
      ? parseProvider(flags.llmProvider)
      : (config.llm.provider ?? inferProvider(model, baseUrl));
  return {
    settings: { ...base.settings, provider, model, baseUrl },
    limits: {
      ...base.limits,
      maxAttempts:
        flags.maxAttempts !== undefined ? parseAttempts(flags.maxAttempts) : base.limits.maxAttempts,
    },
  };
}
