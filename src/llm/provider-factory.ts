import { createAnthropic } from "@ai-sdk/anthropic";
import { createAzure } from "@ai-sdk/azure";
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import type { LanguageModel } from "ai";
import { LlmError } from "./errors.js";
import type { LlmProviderName, LlmSettings } from "./types.js";

/** The environment variable each provider reads its key from when `llm.api_key_env` is not set. */
export const DEFAULT_KEY_ENV: Record<LlmProviderName, string> = {
  openai: "OPENAI_API_KEY",
  azure: "AZURE_API_KEY",
  anthropic: "ANTHROPIC_API_KEY",
  ollama: "OLLAMA_API_KEY",
  "openai-compatible": "OPENAI_COMPATIBLE_API_KEY",
};

/** Local servers (Ollama, vLLM, LM Studio) usually need no key. */
const KEY_REQUIRED: Record<LlmProviderName, boolean> = {
  openai: true,
  azure: true,
  anthropic: true,
  ollama: false,
  "openai-compatible": false,
};

export const OLLAMA_DEFAULT_BASE_URL = "http://localhost:11434/v1";

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
  const keyEnv = settings.apiKeyEnv ?? DEFAULT_KEY_ENV[settings.provider];
  // Azure's own docs name the variable AZURE_OPENAI_API_KEY; accept it when the SDK's name is unset.
  let apiKey = env[keyEnv]?.trim() || undefined;
  if (!apiKey && settings.provider === "azure" && !settings.apiKeyEnv)
    apiKey = env.AZURE_OPENAI_API_KEY?.trim() || undefined;
  if (!apiKey && KEY_REQUIRED[settings.provider]) {
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

/** An Azure endpoint given as `https://x.openai.azure.com` means its `/openai` API root. */
function azureBaseUrl(url: string): string {
  const u = new URL(url);
  return u.pathname === "/" || u.pathname === "" ? `${url.replace(/\/+$/, "")}/openai` : url;
}

/**
 * One factory for every provider. Chat-completions models are used for OpenAI and Azure (not the Responses API)
 * so that every OpenAI-style endpoint — Azure deployments, Ollama, vLLM, proxies — speaks the same protocol.
 */
export function resolveModel(settings: LlmSettings, env: NodeJS.ProcessEnv = process.env): ResolvedModel {
  const { keyEnv, apiKey } = readKey(settings, env);
  const secrets = apiKey ? [{ name: keyEnv, value: apiKey }] : [];
  const base = { keyEnv: apiKey ? keyEnv : undefined, secrets };
  switch (settings.provider) {
    case "openai": {
      const provider = createOpenAI({ apiKey, baseURL: settings.baseUrl });
      return {
        ...base,
        model: provider.chat(settings.model),
        endpoint: settings.baseUrl ?? "https://api.openai.com/v1",
      };
    }
    case "anthropic": {
      const provider = createAnthropic({ apiKey, baseURL: settings.baseUrl });
      return {
        ...base,
        model: provider(settings.model),
        endpoint: settings.baseUrl ?? "https://api.anthropic.com/v1",
      };
    }
    case "azure": {
      const az = settings.azure ?? {};
      if (!settings.baseUrl && !az.resourceName) {
        throw new LlmError("config", "the azure provider needs an endpoint or a resource name", {
          hint: "Set llm.base_url (https://<resource>.openai.azure.com) or llm.azure.resource_name in config.yaml.",
        });
      }
      const baseURL = settings.baseUrl ? azureBaseUrl(settings.baseUrl) : undefined;
      const dated = az.apiVersion !== undefined && az.apiVersion !== "v1";
      const provider = createAzure({
        apiKey,
        baseURL,
        resourceName: baseURL ? undefined : az.resourceName,
        apiVersion: az.apiVersion,
        useDeploymentBasedUrls: dated,
      });
      const deployment = az.deployment ?? settings.model;
      return {
        ...base,
        model: provider.chat(deployment),
        endpoint: `${baseURL ?? `https://${az.resourceName}.openai.azure.com/openai`} (deployment ${deployment})`,
      };
    }
    case "ollama":
    case "openai-compatible": {
      const baseURL =
        settings.baseUrl ?? (settings.provider === "ollama" ? OLLAMA_DEFAULT_BASE_URL : undefined);
      if (!baseURL) {
        throw new LlmError("config", "the openai-compatible provider needs a base URL", {
          hint: "Set llm.base_url in config.yaml or pass --llm-base-url (e.g. http://localhost:8000/v1).",
        });
      }
      const provider = createOpenAICompatible({
        name: settings.provider,
        baseURL,
        apiKey,
        includeUsage: true,
      });
      return { ...base, model: provider.chatModel(settings.model), endpoint: baseURL };
    }
  }
}
