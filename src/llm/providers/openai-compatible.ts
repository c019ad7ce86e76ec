import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { LlmError } from "../errors.js";
import { defineProvider, type ProviderRequest } from "./spec.js";

/** The chat model of an OpenAI-compatible server (Ollama, vLLM, LM Studio, a proxy). */
export function compatibleModel(name: string, baseURL: string | undefined, r: ProviderRequest) {
  if (!baseURL) {
    throw new LlmError("config", `the ${name} provider needs a base URL`, {
      hint: "Set llm.base_url in config.yaml or pass --llm-base-url (e.g. http://localhost:8000/v1).",
    });
  }
  const provider = createOpenAICompatible({ name, baseURL, apiKey: r.apiKey, includeUsage: true });
  return { model: provider.chatModel(r.model), endpoint: baseURL };
}

export const openaiCompatible = defineProvider({
  name: "openai-compatible",
  label: "any OpenAI-compatible server (vLLM, LM Studio, a proxy)",
  keyEnv: "OPENAI_COMPATIBLE_API_KEY",
  keyRequired: false,
  endpointDoc: "`llm.base_url` (required)",
  // Any base URL no other provider claims (provider inference tries this one last).
  ownsBaseUrl: () => true,
  create: (r) => compatibleModel("openai-compatible", r.baseUrl, r),
});
