import { createAnthropic } from "@ai-sdk/anthropic";
import { defineProvider } from "./spec.js";

export const anthropic = defineProvider({
  name: "anthropic",
  label: "Anthropic",
  keyEnv: "ANTHROPIC_API_KEY",
  keyRequired: true,
  endpointDoc: "`https://api.anthropic.com/v1`, or `llm.base_url`",
  ownsModel: (model) => /^claude/i.test(model),
  create: ({ model, baseUrl, apiKey }) => ({
    model: createAnthropic({ apiKey, baseURL: baseUrl })(model),
    endpoint: baseUrl ?? "https://api.anthropic.com/v1",
  }),
  // Public list prices as published in 2025.
  prices: {
    "claude-3-5-sonnet": { input: 3, output: 15 },
    "claude-3-7-sonnet": { input: 3, output: 15 },
    "claude-3-5-haiku": { input: 0.8, output: 4 },
    "claude-sonnet-4": { input: 3, output: 15 },
    "claude-sonnet-4-5": { input: 3, output: 15 },
    "claude-haiku-4-5": { input: 1, output: 5 },
    "claude-opus-4": { input: 15, output: 75 },
    "claude-opus-4-1": { input: 15, output: 75 },
  },
});
