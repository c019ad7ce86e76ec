import { DEFAULT_PRICES } from "./providers/index.js";
import type { ModelPrice, TokenUsage } from "./types.js";

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

/**
 * The price of a model: the user's table (`llm.prices`) first (exact name, then family), then the providers' built-in
 * public list prices (src/llm/providers). They change: override or add models with `llm.prices`. A model found in
 * neither is "unpriced": its tokens are counted, no money is computed, and no money limit can apply to it.
 */
export function priceFor(model: string, overrides: Record<string, ModelPrice> = {}): ModelPrice | undefined {
  const base = baseModelName(model);
  return overrides[model] ?? overrides[base] ?? DEFAULT_PRICES[model] ?? DEFAULT_PRICES[base];
}

/** USD for a usage at a price; undefined when the model is unpriced. */
export function costOf(usage: TokenUsage, price: ModelPrice | undefined): number | undefined {
  if (!price) return undefined;
  return (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000;
}
