import { acceptProfileName } from "../config/schema.js";
import { UsageError } from "../core/errors.js";
import { genericProfile } from "./generic/index.js";
import { goProfile } from "./go/index.js";
import { nodeProfile } from "./node/index.js";
import { odibiProfile } from "./odibi/profile.js";
import type { Profile } from "./profile.js";
import { pythonProfile } from "./python/index.js";
import { rustProfile } from "./rust/index.js";

export { nodeTestCommand } from "./node/index.js";
export * from "./oracle-paths.js";
export type { Profile } from "./profile.js";

/** The profiles in detection order: the first whose `detect` says yes is a repository's; generic last, always. */
const PROFILES: Profile[] = [
  odibiProfile,
  pythonProfile,
  nodeProfile,
  goProfile,
  rustProfile,
  genericProfile,
];
for (const p of PROFILES) acceptProfileName(p.name, p.gates);

/** Every profile, in detection order. */
export function profiles(): readonly Profile[] {
  return PROFILES;
}

/** The profile of that name (config.yaml `profile:`, `init --profile`). */
export function profileOf(name: string): Profile {
  const p = PROFILES.find((x) => x.name === name);
  if (!p)
    throw new UsageError(
      `unknown profile "${name}"`,
      `Use one of: ${PROFILES.map((x) => x.name).join(", ")}.`,
    );
  return p;
}

/** A repository's profile from its files (read only). */
export function detectProfile(repo: string): Profile {
  return PROFILES.find((p) => p.detect(repo)) ?? genericProfile;
}

/**
 * Adds a profile defined outside src/ (the tests' example language): asked before generic at detection, and its
 * name accepted in config.yaml. The built-in ones are listed in PROFILES above.
 */
export function registerProfile(profile: Profile): void {
  if (PROFILES.some((p) => p.name === profile.name)) throw new Error(`profile ${profile.name} exists`);
  PROFILES.splice(PROFILES.length - 1, 0, profile);
  acceptProfileName(profile.name, profile.gates);
}
