import type { Config } from "./schema.js";

/**
 * The roadmap's CampaignConfig names (E3.1, E4.3), accepted in `campaign:` so a config written from the roadmap
 * works. Each names one key of the section that owns the setting; set under `campaign:` it overrides that key
 * (the campaign's own setting over the environment's default, as a command-line flag overrides both).
 */
export const CAMPAIGN_ALIASES = {
  max_cycles: ["stop_conditions", "max_cycles"],
  max_hours: ["stop_conditions", "max_hours"],
  convergence_threshold: ["stop_conditions", "convergence_cycles"],
  require_tests_pass: ["gates", "require_pytest_pass"],
  require_lint_clean: ["gates", "require_ruff_clean"],
  require_golden_pass: ["gates", "require_golden_projects"],
  enable_llm_improvements: ["campaign", "llm"],
  max_improvement_attempts_per_cycle: ["llm", "max_attempts"],
  llm_model: ["llm", "model"],
} as const;

/** Pure: a copy of `config` with the aliases set under `campaign:` moved into the keys they name. */
export function foldCampaignAliases(config: Config): Config {
  const out = structuredClone(config);
  const sections = out as unknown as Record<string, Record<string, unknown>>;
  const campaign = sections.campaign!;
  for (const [alias, [section, key]] of Object.entries(CAMPAIGN_ALIASES)) {
    if (campaign[alias] === undefined) continue;
    sections[section]![key] = campaign[alias];
    delete campaign[alias];
  }
  return out;
}
