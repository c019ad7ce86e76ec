import type { LanguageModel } from "ai";

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

/** What a provider's constructor gets: the settings that shape requests, and the key (if any). */
export interface ProviderRequest {
  model: string;
  baseUrl?: string;
  azure?: AzureSettings;
  apiKey?: string;
}

/**
 * Everything odibi-improve knows about one provider. The provider list, config.yaml's `llm.provider` choices, the
 * `--llm-provider` choices, key handling, error hints, built-in prices, provider inference and the table in
 * docs/llm.md all come from these objects (src/llm/providers/index.ts lists them).
 */
export interface ProviderSpec<N extends string = string> {
  /** `llm.provider` / `--llm-provider`. */
  name: N;
  /** For people: the docs table's first column. */
  label: string;
  /** The environment variable holding the key when `llm.api_key_env` is not set. */
  keyEnv: string;
  /** Variables read when `keyEnv` is unset (and `llm.api_key_env` is not given). */
  keyEnvAliases?: readonly string[];
  /** Local servers usually need no key. */
  keyRequired: boolean;
  /** Where requests go, for the docs table. */
  endpointDoc: string;
  /** Is a base URL this provider's (provider inference when `llm.provider` is unset)? */
  ownsBaseUrl?(url: string): boolean;
  /** Is a model this provider's (inference when neither provider nor base URL is set)? */
  ownsModel?(model: string): boolean;
  /** The AI SDK model and the endpoint (for messages; never a key). Throws LlmError("config") on bad settings. */
  create(r: ProviderRequest): { model: LanguageModel; endpoint: string };
  /** Error hints in the provider's terms; unset ones fall back to generic hints. */
  hints?: {
    /** Appended to "Check that <key variable> holds a valid key for this endpoint". */
    authScope?: string;
    modelNotFound?(model: string): string;
    network?: string;
  };
  /** Public list prices by model name (USD per million tokens); `llm.prices` overrides and extends them. */
  prices?: Readonly<Record<string, ModelPrice>>;
}

/** Keeps the name's literal type, so the list of specs gives the provider-name union. */
export function defineProvider<const N extends string>(spec: ProviderSpec<N>): ProviderSpec<N> {
  return spec;
}
