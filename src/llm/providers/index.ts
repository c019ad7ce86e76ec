import { anthropic } from "./anthropic.js";
import { azure } from "./azure.js";
import { ollama } from "./ollama.js";
import { openai } from "./openai.js";
import { openaiCompatible } from "./openai-compatible.js";
import type { ModelPrice, ProviderSpec } from "./spec.js";

export type { AzureSettings, ModelPrice, ProviderRequest, ProviderSpec } from "./spec.js";

/**
 * Every provider, in the order people read them (docs, help). Adding a provider is one file in this folder and
 * one entry here: the config schema, the CLI's choices, key handling, hints, prices and the docs table follow.
 */
export const PROVIDER_SPECS = [openai, azure, anthropic, ollama, openaiCompatible] as const;

export type LlmProviderName = (typeof PROVIDER_SPECS)[number]["name"];

export const LLM_PROVIDERS = PROVIDER_SPECS.map((s) => s.name) as [LlmProviderName, ...LlmProviderName[]];

export function providerSpec(name: LlmProviderName): ProviderSpec<LlmProviderName> {
  return PROVIDER_SPECS.find((s) => s.name === name)!;
}

/** The environment variable each provider reads its key from when `llm.api_key_env` is not set. */
export const DEFAULT_KEY_ENV = Object.fromEntries(PROVIDER_SPECS.map((s) => [s.name, s.keyEnv])) as Record<
  LlmProviderName,
  string
>;

/** Every provider's built-in prices in one table, by model name. */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = Object.assign(
  {},
  ...PROVIDER_SPECS.map((s: ProviderSpec) => s.prices ?? {}),
);

/**
 * Provider when none is configured: a base URL is owned by the first provider claiming it (Ollama's port, else
 * openai-compatible); without one, by the model's name (`claude…`); otherwise openai.
 */
export function inferProvider(model: string, baseUrl: string | undefined): LlmProviderName {
  const specs: readonly ProviderSpec<LlmProviderName>[] = PROVIDER_SPECS;
  const owner = baseUrl
    ? specs.find((s) => s.ownsBaseUrl?.(baseUrl))
    : specs.find((s) => s.ownsModel?.(model));
  return owner?.name ?? "openai";
}

/** The providers table of docs/llm.md (a test keeps the docs equal to it). */
export function providersTable(): string {
  const rows = PROVIDER_SPECS.map((s: ProviderSpec) => {
    const aliases = s.keyEnvAliases?.length
      ? ` (or ${s.keyEnvAliases.map((a) => `\`${a}\``).join(", ")})`
      : "";
    const optional = s.keyRequired ? "" : " (optional)";
    return `| ${s.label} | \`${s.name}\` | \`${s.keyEnv}\`${aliases}${optional} | ${s.endpointDoc} |`;
  });
  return [
    "| provider | `llm.provider` | key variable (default) | endpoint |",
    "|---|---|---|---|",
    ...rows,
  ].join("\n");
}
