import { compatibleModel } from "./openai-compatible.js";
import { defineProvider } from "./spec.js";

const DEFAULT_BASE_URL = "http://localhost:11434/v1";

/** Ollama through its OpenAI-compatible API. */
export const ollama = defineProvider({
  name: "ollama",
  label: "Ollama",
  keyEnv: "OLLAMA_API_KEY",
  keyRequired: false,
  endpointDoc: `\`${DEFAULT_BASE_URL}\` (its OpenAI-compatible API), or \`llm.base_url\``,
  ownsBaseUrl: (url) => url.includes(":11434"),
  create: (r) => compatibleModel("ollama", r.baseUrl ?? DEFAULT_BASE_URL, r),
  hints: {
    modelNotFound: (model) =>
      `Pull it first: ollama pull ${model}, or pick an installed model (ollama list).`,
    network: "Is Ollama running (ollama serve) and listening on that address?",
  },
});
