import { ConfigError } from "../core/errors.js";

/**
 * What the configuration knows of a gate (the gate objects of src/gates and src/profiles describe themselves with
 * these fields; this layer sits below them and never imports one).
 */
export interface RequirableGate {
  name: string;
  /** Its `gates.require_*` key in config.yaml: `true` lists the gate in `gates.required`, `false` leaves it out. */
  configKey?: string;
  /** Required when config.yaml has neither `gates.required` nor the gate's `configKey` (unset: true). */
  requiredByDefault?: boolean;
}

export const REQUIRED_GATES_HINT =
  "List only the profile's gates in gates.required, and keep gates.require_* in agreement with it.";

/** The part of `gates:` that says which gates are required. */
export type RequiredGatesConfig = { required?: readonly string[] | undefined; [key: string]: unknown };

export interface RequiredGatesProblem {
  /** Where in config.yaml (`["gates", "required", 0]`). */
  path: (string | number)[];
  message: string;
}

/**
 * The gates a candidate must pass, from `gates:` and the profile's gates (in cascade order). A required gate runs
 * (when it applies: its command is set, it has golden projects) and must run fully on a candidate whose baseline it
 * ran on; a gate that is not required does not run.
 *
 * - `gates.required: [names]` lists them; each name must be one of the profile's gates.
 * - Without it, every gate with `requiredByDefault`, then each gate's `require_*` key (`configKey`) set to `true`
 *   adds it and set to `false` removes it (the roadmap's `campaign.require_*` names were folded into these keys).
 * - With both, a `require_*` key of the profile's gates must agree with the list (a contradiction is a problem).
 *   A key of a gate the profile does not run is ignored.
 */
export function requiredGates(
  gates: RequiredGatesConfig,
  profileGates: readonly RequirableGate[],
): { names: string[]; problems: RequiredGatesProblem[] } {
  const known = profileGates.map((g) => g.name);
  const problems: RequiredGatesProblem[] = [];
  const listed = gates.required;
  const names = new Set(
    listed ?? profileGates.filter((g) => g.requiredByDefault !== false).map((g) => g.name),
  );
  listed?.forEach((name, i) => {
    if (!known.includes(name))
      problems.push({
        path: ["gates", "required", i],
        message: `unknown gate "${name}": this profile's gates are ${known.join(", ") || "(none)"}`,
      });
  });
  for (const g of profileGates) {
    const value = g.configKey === undefined ? undefined : gates[g.configKey];
    if (typeof value !== "boolean") continue;
    if (!listed) {
      if (value) names.add(g.name);
      else names.delete(g.name);
    } else if (value !== names.has(g.name))
      problems.push({
        path: ["gates", g.configKey!],
        message: `${value} contradicts gates.required, which ${value ? "does not list" : "lists"} ${g.name} (remove one of the two)`,
      });
  }
  return { names: known.filter((n) => names.has(n)), problems };
}

/** `requiredGates`' names; its problems as a ConfigError (config.yaml is checked at load, so only for a config built in code). */
export function requiredGateNames(
  gates: RequiredGatesConfig,
  profileGates: readonly RequirableGate[],
): ReadonlySet<string> {
  const { names, problems } = requiredGates(gates, profileGates);
  if (problems.length > 0)
    throw new ConfigError(
      problems.map((p) => ({ file: "config.yaml", path: p.path.join("."), message: p.message })),
      REQUIRED_GATES_HINT,
    );
  return new Set(names);
}
