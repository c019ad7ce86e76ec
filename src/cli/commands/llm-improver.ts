import { Budget } from "../../brain/budget.js";
import { createLlmImprover, type LlmImprover } from "../../brain/llm-improver.js";
import type { ImprovementEnvironment } from "../../environment/environment.js";
import { createLlmClient } from "../../llm/client.js";
import { type LlmFlags, llmOptionsFromFlags } from "../../llm/options.js";

/**
 * The LLM approach when one is configured (`llm.provider` in config.yaml, or any --llm-* flag), else undefined
 * (deterministic fixers only). The client is made here, before any cycle, so a missing key fails at once.
 */
export function makeLlmImprover(
  env: ImprovementEnvironment,
  flags: LlmFlags,
  log: (line: string) => void,
): LlmImprover | undefined {
  const asked = flags.llmProvider ?? flags.llmBaseUrl ?? flags.llmModel;
  if (!env.config.campaign.llm || (!env.config.llm.provider && asked === undefined)) {
    log("no LLM configured: deterministic fixers only (set `llm:` in config.yaml or pass --llm-provider)");
    return undefined;
  }
  const { settings, limits } = llmOptionsFromFlags(flags, env.config);
  if (limits.maxAttempts === 0) {
    log("--max-attempts 0: LLM attempts disabled");
    return undefined;
  }
  const client = createLlmClient(settings);
  log(`LLM: ${settings.provider} ${settings.model}${settings.baseUrl ? ` at ${settings.baseUrl}` : ""}`);
  return createLlmImprover({
    client,
    budget: new Budget({ maxTokens: limits.maxTokens, maxCostUsd: limits.maxCostUsd }),
    limits,
    trajectoriesDir: env.layout.trajectories,
    log,
  });
}
