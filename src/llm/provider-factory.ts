import type { LanguageModel } from "ai";
import { LlmError } from "./errors.js";
import { providerSpec } from "./providers/index.js";
import type { LlmSettings } from "./types.js";

export interface ResolvedModel {
  model: LanguageModel;
  /** Where requests go, for messages (never contains a key). */
  endpoint: string;
  /** The variable the key came from, if any. */
  keyEnv?: string;
  /** Values that must be redacted from everything written. */
  secrets: Array<{ name: string; value: string }>;
}

function readKey(settings: LlmSettings, env: NodeJS.ProcessEnv): { keyEnv: string; apiKey?: string } {
  const spec = providerSpec(settings.provider);
  const keyEnv = settings.apiKeyEnv ?? spec.keyEnv;
  let apiKey = env[keyEnv]?.trim() || undefined;
  if (!settings.apiKeyEnv)
    for (const alias of spec.keyEnvAliases ?? []) apiKey ??= env[alias]?.trim() || undefined;
  if (!apiKey && spec.keyRequired) {
    throw new LlmError(
      "missing_key",
      `the ${settings.provider} provider needs an API key: ${keyEnv} is not set`,
      {
        hint: `Set the environment variable ${keyEnv} (keys are read only from the environment, never from config.yaml), or name another variable with llm.api_key_env.`,
      },
    );
  }
  return { keyEnv, apiKey };
}

/** One factory for every provider: the key from the environment, then the provider's own constructor. */
export function resolveModel(settings: LlmSettings, env: NodeJS.ProcessEnv = process.env): ResolvedModel {
  const { keyEnv, apiKey } = readKey(settings, env);
  const { model, endpoint } = providerSpec(settings.provider).create({
    model: settings.model,
    baseUrl: settings.baseUrl,
    azure: settings.azure,
    apiKey,
  });
  return {
    model,
    endpoint,
    keyEnv: apiKey ? keyEnv : undefined,
    secrets: apiKey ? [{ name: keyEnv, value: apiKey }] : [],
  };
}
