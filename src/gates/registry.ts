import type { GateName } from "../core/types.js";
import type { Gate } from "./gate.js";
import { lintGate } from "./lint-gate.js";
import { goldenGate } from "./odibi/golden-gate.js";
import { validateGate } from "./odibi/validate-gate.js";
import { testsGate } from "./tests-gate.js";

/**
 * Every gate the pipeline knows, in cascade order (cheapest first). `policy` is not here: it looks at the diff
 * only and comes in as a function (see CheckGatesOptions.policy).
 *
 * New gates: add them to GATES (their place in the cascade comes from CASCADE_ORDER). Which gates run is then
 * decided by the profile's gate list and each gate's `applies(ctx)`.
 */
export const CASCADE_ORDER: readonly GateName[] = ["lint", "validate", "tests", "golden"];

const GATES = new Map<GateName, Gate>([
  ["lint", lintGate],
  ["tests", testsGate],
  ["validate", validateGate],
  ["golden", goldenGate],
]);

export function registerGate(gate: Gate): void {
  GATES.set(gate.name, gate);
}

export function getGate(name: GateName): Gate | undefined {
  return GATES.get(name);
}

/** The registered gates in cascade order; names outside CASCADE_ORDER run last, in registration order. */
export function registeredGates(): Gate[] {
  const ordered = CASCADE_ORDER.map((n) => GATES.get(n)).filter((g): g is Gate => g !== undefined);
  const rest = [...GATES.values()].filter((g) => !CASCADE_ORDER.includes(g.name));
  return [...ordered, ...rest];
}
