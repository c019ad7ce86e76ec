import { createOpenAI } from "@ai-sdk/openai";
import { defineProvider } from "./spec.js";

/** Chat-completions (not the Responses API), so every OpenAI-style endpoint speaks the same protocol. */
export const openai = defineProvider({
  name: "openai",
  label: "OpenAI",
  keyEnv: "OPENAI_API_KEY",
  keyRequired: true,
  endpointDoc: "`https://api.openai.com/v1`, or `llm.base_url`",
  create: ({ model, baseUrl, apiKey }) => ({
    model: createOpenAI({ apiKey, baseURL: baseUrl }).chat(model),
    endpoint: baseUrl ?? "https://api.openai.com/v1",
  }),
  // Public list prices as published in 2025.
  prices: {
    "gpt-4o-mini": { input: 0.15, output: 0.6 },
    "gpt-4o": { input: 2.5, output: 10 },
    "gpt-4.1": { input: 2, output: 8 },
    "gpt-4.1-mini": { input: 0.4, output: 1.6 },
    "gpt-4.1-nano": { input: 0.1, output: 0.4 },
    "gpt-5": { input: 1.25, output: 10 },
    "gpt-5-mini": { input: 0.25, output: 2 },
    "gpt-5-nano": { input: 0.05, output: 0.4 },
    o1: { input: 15, output: 60 },
    o3: { input: 2, output: 8 },
    "o3-mini": { input: 1.1, output: 4.4 },
    "o4-mini": { input: 1.1, output: 4.4 },
  },
});
