import type { ModelPrice, TokenUsage } from "./types.js";

/**
 * Public list prices in USD per million tokens (input / output), as published by the providers in 2025.
 * They change: override or add models with `llm.prices` in config.yaml. A model not found here is "unpriced":
 * its tokens are counted, no money is computed, and no money limit can apply to it.
 */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = {
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
  "claude-3-5-sonnet": { input: 3, output: 15 },
  "claude-3-7-sonnet": { input: 3, output: 15 },
  "claude-3-5-haiku": { input: 0.8, output: 4 },
  "claude-sonnet-4": { input: 3, output: 15 },
  "claude-sonnet-4-5": { input: 3, output: 15 },
  "claude-haiku-4-5": { input: 1, output: 5 },
  "claude-opus-4": { input: 15, output: 75 },
  "claude-opus-4-1": { input: 15, output: 75 },
};

/**
 * Dated and tagged names (`gpt-4o-mini-2024-07-18`, `claude-3-5-sonnet-20241022`, `claude-3-5-sonnet-latest`)
 * cost what their family costs.
 */
function baseModelName(model: string): string {
  return model
    .toLowerCase()
    .replace(/-(latest|\d{4}-\d{2}-\d{2}|\d{8})$/, "")
    .replace(/-v\d+(:\d+)?$/, "");
}

/** The price of a model: the user's table first (exact name, then family), then the built-in one. */
export function priceFor(model: string, overrides: Record<string, ModelPrice> = {}): ModelPrice | undefined {
  const base = baseModelName(model);
  return overrides[model] ?? overrides[base] ?? DEFAULT_PRICES[model] ?? DEFAULT_PRICES[base];
}

/** USD for a usage at a price; undefined when the model is unpriced. */
export function costOf(usage: TokenUsage, price: ModelPrice | undefined): number | undefined {
  if (!price) return undefined;
  return (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000;
}
