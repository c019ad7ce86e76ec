import { buildGateEnv } from "../../gates/env.js";
import { lintGate } from "../../gates/lint-gate.js";
import { testsGate } from "../../gates/tests-gate.js";
import { EVERY_ORACLE } from "../oracle-paths.js";
import type { Profile } from "../profile.js";

/** Any repository: only the commands the user configures; every language's oracle. Detected last, always. */
export const genericProfile: Profile = {
  name: "generic",
  description: "Any repository: only the commands you configure",
  detect: () => true,
  commands: () => ({}),
  gates: [lintGate, testsGate],
  gateEnv: ({ venv }) => buildGateEnv({ venv }),
  oracle: EVERY_ORACLE,
  usesVenv: false,
};
