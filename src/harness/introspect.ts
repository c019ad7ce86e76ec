import { z } from "zod";
import { OdibiImproveError } from "../core/errors.js";
import type { GateContext } from "../gates/gate.js";

/**
 * What odibi says about itself, read from the code under test (never a hard-coded list): every transformer in its
 * `FunctionRegistry` with the JSON schema of its pydantic parameter model, and every pattern class in
 * `odibi.patterns._PATTERNS` with its `required_params` / `optional_params`. A new odibi release is covered by
 * running this again.
 */
export const INTROSPECT_PY = String.raw`
import inspect, json, sys
import odibi
from odibi.registry import FunctionRegistry
from odibi.transformers import register_standard_library
register_standard_library()
import odibi.patterns as patterns_module

def summary(doc):
    return inspect.cleandoc(doc).split("\n")[0] if doc else ""

def schema_of(model):
    try:
        return model.model_json_schema()
    except Exception as e:
        return {"error": "%s: %s" % (type(e).__name__, e)}

out = {"odibiVersion": getattr(odibi, "__version__", "unknown"), "odibiFile": odibi.__file__,
       "transformers": [], "patterns": []}
for name in sorted(FunctionRegistry.list_functions()):
    fn = FunctionRegistry.get_function(name)
    model = FunctionRegistry.get_param_model(name)
    out["transformers"].append({
        "name": name,
        "module": getattr(fn, "__module__", ""),
        "function": getattr(inspect.unwrap(fn), "__qualname__", name),
        "summary": summary(fn.__doc__),
        "paramModel": model.__name__ if model else None,
        "params": schema_of(model) if model else None,
        "signature": [p for p in inspect.signature(fn).parameters if p not in ("context", "current")],
    })
registry = getattr(patterns_module, "_PATTERNS", None)
if registry is None:
    registry = {n: patterns_module.get_pattern_class(n) for n in getattr(patterns_module, "PATTERN_NAMES", [])}
for name in sorted(registry):
    cls = registry[name]
    out["patterns"].append({
        "name": name,
        "class": cls.__name__,
        "module": cls.__module__,
        "summary": summary(cls.__doc__),
        "required": list(getattr(cls, "required_params", [])),
        "optional": list(getattr(cls, "optional_params", [])),
    })
print("ODIBI_INTROSPECTION_BEGIN")
print(json.dumps(out, sort_keys=True, default=str))
`;

/** A JSON schema as pydantic writes it (only the parts the generator reads are typed). */
export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  [k: string]: unknown;
};

const JsonSchemaZ: z.ZodType<JsonSchema> = z.looseObject({}) as unknown as z.ZodType<JsonSchema>;

export const TransformerInfoSchema = z.object({
  name: z.string().min(1),
  module: z.string(),
  /** The implementing function's qualified name (for coverage); absent in older introspections: the name. */
  function: z.string().optional(),
  summary: z.string(),
  paramModel: z.string().nullable(),
  params: JsonSchemaZ.nullable(),
  signature: z.array(z.string()),
});
export const PatternInfoSchema = z.object({
  name: z.string().min(1),
  class: z.string(),
  module: z.string(),
  summary: z.string(),
  required: z.array(z.string()),
  optional: z.array(z.string()),
});
export const IntrospectionSchema = z.object({
  odibiVersion: z.string(),
  odibiFile: z.string(),
  transformers: z.array(TransformerInfoSchema),
  patterns: z.array(PatternInfoSchema),
  /** Per transformer: the index of the first of its parameter candidates odibi accepts (see chooseParams). */
  paramChoice: z.record(z.string(), z.number().int()).default({}),
});
export type TransformerInfo = z.output<typeof TransformerInfoSchema>;
export type PatternInfo = z.output<typeof PatternInfoSchema>;
export type OdibiIntrospection = z.output<typeof IntrospectionSchema>;

export class IntrospectionError extends OdibiImproveError {}

/** The introspection JSON from the script's stdout (its marker line, then one JSON line). */
export function parseIntrospection(stdout: string): OdibiIntrospection {
  const at = stdout.lastIndexOf("ODIBI_INTROSPECTION_BEGIN");
  if (at < 0)
    throw new IntrospectionError("odibi's introspection printed no result", {
      hint: "Check that odibi imports in the gates' venv (`odibi-improve setup --odibi`).",
    });
  let raw: unknown;
  try {
    raw = JSON.parse(stdout.slice(at + "ODIBI_INTROSPECTION_BEGIN".length));
  } catch (e) {
    throw new IntrospectionError(`odibi's introspection printed invalid JSON: ${(e as Error).message}`);
  }
  const r = IntrospectionSchema.safeParse(raw);
  if (!r.success) throw new IntrospectionError(`odibi's introspection: ${z.prettifyError(r.error)}`);
  return r.data;
}

/**
 * Run the introspection with the gates' environment (the tree's own `odibi/` on PYTHONPATH, the venv's python,
 * the context's jail) from `cwd`, and parse it.
 */
export async function introspectOdibi(ctx: GateContext, cwd: string): Promise<OdibiIntrospection> {
  const r = await ctx.workspace.exec("python", ["-c", INTROSPECT_PY], {
    cwd,
    env: { ...ctx.env, PYTHONDONTWRITEBYTECODE: "1" },
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
  });
  if (r.exitCode !== 0)
    throw new IntrospectionError(
      `introspecting odibi failed (exit ${r.exitCode}${r.timedOut ? ", timed out" : ""}):\n${(r.stderr || r.stdout).slice(-3000)}`,
      { hint: "Check that odibi imports in the gates' venv (`odibi-improve setup --odibi`)." },
    );
  return parseIntrospection(r.stdout);
}

/**
 * For each transformer, the first parameter set odibi's own validation accepts: FunctionRegistry.validate_params
 * (the pydantic model with its validators) and, for a name that is also a pattern, the pattern's required params.
 * Reads {name: [candidates]} on stdin; prints {name: index} (-1: none accepted).
 */
export const CHOOSE_PARAMS_PY = `
import json, sys
from odibi.registry import FunctionRegistry
from odibi.transformers import register_standard_library
register_standard_library()
import odibi.patterns as patterns_module
patterns = getattr(patterns_module, "_PATTERNS", {})
candidates = json.load(sys.stdin)
chosen = {}
for name, sets in candidates.items():
    chosen[name] = -1
    for i, params in enumerate(sets):
        try:
            FunctionRegistry.validate_params(name, params)
        except Exception:
            continue
        pattern = patterns.get(name)
        if pattern is not None and any(p not in params for p in getattr(pattern, "required_params", [])):
            continue
        chosen[name] = i
        break
print("ODIBI_PARAM_CHOICE_BEGIN")
print(json.dumps(chosen))
`;

/** Ask odibi which parameter candidates it accepts (see CHOOSE_PARAMS_PY). */
export async function chooseParams(
  ctx: GateContext,
  cwd: string,
  candidates: Record<string, Record<string, unknown>[]>,
): Promise<Record<string, number>> {
  const r = await ctx.workspace.exec("python", ["-c", CHOOSE_PARAMS_PY], {
    cwd,
    env: { ...ctx.env, PYTHONDONTWRITEBYTECODE: "1" },
    input: JSON.stringify(candidates),
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
  });
  const at = r.stdout.lastIndexOf("ODIBI_PARAM_CHOICE_BEGIN");
  if (r.exitCode !== 0 || at < 0)
    throw new IntrospectionError(`odibi's parameter check failed: ${(r.stderr || r.stdout).slice(-2000)}`);
  return z.record(z.string(), z.number().int()).parse(JSON.parse(r.stdout.slice(at + 24)));
}
