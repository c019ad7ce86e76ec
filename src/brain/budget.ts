import type { TokenUsage } from "../llm/types.js";

export type BudgetLimitKind = "tokens" | "cost";

export interface BudgetExhaustion {
  kind: BudgetLimitKind;
  message: string;
}

export interface BudgetLimits {
  /** Input + output tokens for the whole campaign. */
  maxTokens?: number;
  /** USD for the whole campaign; only priced calls count. */
  maxCostUsd?: number;
}

/**
 * The campaign's LLM spending, shared by every brain call of the campaign (one object, passed in). A request is
 * only started while the budget is not exhausted; one request can overshoot by its own size, no more.
 */
export class Budget {
  readonly limits: BudgetLimits;
  inputTokens = 0;
  outputTokens = 0;
  costUsd = 0;
  /** Tokens of models with no price: counted, not costed. */
  unpricedTokens = 0;
  requests = 0;
  /** Tokens spent by earlier runs of a resumed campaign (status.json keeps their total, not the input/output split). */
  earlierTokens = 0;

  constructor(
    limits: BudgetLimits = {},
    spent?: { inputTokens?: number; outputTokens?: number; costUsd?: number },
  ) {
    this.limits = limits;
    // A resumed campaign starts from what it had spent.
    this.inputTokens = spent?.inputTokens ?? 0;
    this.outputTokens = spent?.outputTokens ?? 0;
    this.costUsd = spent?.costUsd ?? 0;
  }

  get totalTokens(): number {
    return this.earlierTokens + this.inputTokens + this.outputTokens;
  }

  /** A resumed campaign goes on from what its earlier runs spent (the runner passes status.json's totals). */
  carryOver(spent: { tokens: number; costUsd: number }): void {
    this.earlierTokens += spent.tokens;
    this.costUsd += spent.costUsd;
  }

  charge(usage: TokenUsage, costUsd: number | undefined): void {
    this.requests++;
    this.inputTokens += usage.inputTokens;
    this.outputTokens += usage.outputTokens;
    if (costUsd === undefined) this.unpricedTokens += usage.inputTokens + usage.outputTokens;
    else this.costUsd += costUsd;
  }

  exhausted(): BudgetExhaustion | undefined {
    const { maxTokens, maxCostUsd } = this.limits;
    if (maxTokens !== undefined && this.totalTokens >= maxTokens) {
      return {
        kind: "tokens",
        message: `token budget exhausted: ${this.totalTokens} of ${maxTokens} tokens used`,
      };
    }
    if (maxCostUsd !== undefined && this.costUsd >= maxCostUsd) {
      return {
        kind: "cost",
        message: `money budget exhausted: $${this.costUsd.toFixed(4)} of $${maxCostUsd} spent`,
      };
    }
    return undefined;
  }

  snapshot(): {
    inputTokens: number;
    outputTokens: number;
    costUsd: number;
    unpricedTokens: number;
    requests: number;
  } {
    const { inputTokens, outputTokens, costUsd, unpricedTokens, requests } = this;
    return { inputTokens, outputTokens, costUsd, unpricedTokens, requests };
  }
}
