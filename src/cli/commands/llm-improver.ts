import type { LlmImprover } from "../../campaign/runner.js";
import type { ImprovementEnvironment } from "../../environment/environment.js";

export interface LlmCliFlags {
  llmProvider?: string;
  llmModel?: string;
  maxAttempts?: number;
  llmBaseUrl?: string;
}

/** The LLM approach when one is configured (config `llm.provider` or `--llm-provider`), else undefined. */
export function makeLlmImprover(
  env: ImprovementEnvironment,
  flags: LlmCliFlags,
  log: (line: string) => void,
): LlmImprover | undefined {
  const provider = flags.llmProvider ?? env.config.llm.provider;
  if (!provider) {
    log(
      "no LLM configured: deterministic fixers only (configure `llm:` in config.yaml or pass --llm-provider)",
    );
    return undefined;
  }
  log(
    `LLM provider ${provider} is configured, but the LLM approach is not wired into campaigns yet: fixers only`,
  );
  return undefined;
}
