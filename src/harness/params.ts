import { baseTable, ROLE_COLUMNS as C } from "./data.js";
import type { JsonSchema } from "./introspect.js";

/**
 * Parameter values for a transformer, from its parameter model's JSON schema alone: each required field gets a
 * value shaped by its type (string, integer, list, map, enum, nested model) and its name (a `*_col` names a column
 * of the base table with the role the name says: dates, keys, numerics, text). Nothing here names a transformer:
 * a new transformer whose parameters look like the others' gets a harness without a code change.
 */

/** A second dataset in the harness's pipeline, for parameters that name another node (joins, unions, lookups). */
export const OTHER_NODE = "h_other";
/** A third one, for a list of nodes to compare (a comparison needs two). */
export const OTHER_NODE_2 = "h_other2";
/** Value of the `condition`-like parameters, and how to count the rows it keeps. */
export const CONDITION = { sql: `${C.numeric} > 50`, keeps: (amount: number) => amount > 50 };

export interface FillContext {
  defs: Record<string, JsonSchema>;
  /** The transformer's summary: a generic `col` of a transformer "… to a date/timestamp column" is a date. */
  hint?: string;
}

function deref(s: JsonSchema, ctx: FillContext): JsonSchema {
  if (s.$ref) {
    const name = s.$ref.split("/").pop()!;
    return ctx.defs[name] ?? {};
  }
  return s;
}

function firstBranch(s: JsonSchema, ctx: FillContext): JsonSchema {
  const branches = (s.anyOf ?? []).map((b) => deref(b, ctx)).filter((b) => b.type !== "null");
  return branches.find((b) => b.type === "array" || b.type === "object") ?? branches[0] ?? s;
}

/** The first example odibi's description quotes (`'psig'` in "Source unit (e.g., 'psig', 'degF')"). */
function quotedExample(desc: string | undefined): string | undefined {
  return desc?.match(/'([^'\s][^']*)'/)?.[1];
}

function dateHint(hint: string | undefined): string {
  return /\bdates?\b|timestamp/i.test(hint ?? "") ? "date" : "";
}

function firstWord(desc: string | undefined): string {
  return (desc ?? "").trim().split(/\s+/)[0]?.toLowerCase() ?? "";
}

/** A column for a parameter named `name`, by the role its name says. */
export function columnFor(name: string): string {
  const n = name.toLowerCase();
  if (/start/.test(n)) return C.start;
  if (/end/.test(n)) return C.end;
  if (/date/.test(n)) return C.date;
  if (/time|ts$|timestamp|effective/.test(n)) return C.timestamp;
  if (/json|payload/.test(n)) return C.json;
  if (/user|key|id$/.test(n)) return C.key;
  if (/status|group|category|shift/.test(n)) return C.group;
  if (/bulb|temp|pressure|amount|value|duration|enthalpy|quality|humid|dew|agg|measure|metric/.test(n))
    return C.numeric;
  return C.text;
}

function stringValue(name: string, s: JsonSchema, ctx: FillContext): string {
  const n = name.toLowerCase();
  if (/condition|^when$/.test(n)) return CONDITION.sql;
  if (/^(function|expression|expr)$/.test(n)) return `sum(${C.numeric})`;
  if (/dataset|source$|^inputs?$/.test(n)) return OTHER_NODE;
  if (/output|^target_col$|_name$|^prefix$|^suffix$|^flag_col$|^session_col$/.test(n)) return `h_${n}`;
  if (n === "pattern") return "[0-9]+";
  if (n === "replacement") return "#";
  if (n === "delimiter" || n === "separator" || n === "sep") return "@";
  if (/tz$|timezone/.test(n)) return "UTC";
  if (/schema/.test(n)) return "a INT";
  // A branch's value is a SQL expression: a literal is quoted.
  if (n === "value" || n === "then") return "'high'";
  // A generic name (`col`, `column`) takes its role from odibi's description ("Timestamp column to convert",
  // "String column containing JSON").
  if (/^(col|column)$/.test(n))
    return /\bJSON\b/.test(s.description ?? "")
      ? C.json
      : columnFor(`${n} ${firstWord(s.description) || dateHint(ctx.hint)}`);
  if (/col$|column$|^col_|_col_|^by$/.test(n) || /column/.test(s.description ?? "")) {
    const col = columnFor(n);
    // A column a date transformer reads ("Extracts date parts …") is a date unless its name says otherwise.
    return col === columnFor("") && dateHint(ctx.hint) && /source|input|^col/.test(n)
      ? columnFor("date")
      : col;
  }
  return quotedExample(s.description) ?? columnFor(n);
}

function arrayValue(name: string, s: JsonSchema, ctx: FillContext): unknown[] {
  const n = name.toLowerCase();
  const item = s.items ? deref(s.items, ctx) : { type: "string" };
  if (item.type === "object" || item.anyOf) {
    const v = fillValue(name.replace(/s$/, ""), item, ctx);
    return [v];
  }
  if (/^inputs$/.test(n)) return [OTHER_NODE, OTHER_NODE_2];
  if (/dataset/.test(n)) return [OTHER_NODE];
  if (/^keys$|natural|^grain$/.test(n)) return [C.key];
  if (/group|partition|^id_cols$|^by$/.test(n)) return [C.group];
  if (/value_vars|measures/.test(n)) return [C.numeric, C.numeric2];
  if (/phase/.test(n)) return [C.numeric2];
  if (/order/.test(n)) return [C.timestamp];
  return [C.text, C.text2];
}

function mapValue(name: string, s: JsonSchema, ctx: FillContext): Record<string, unknown> {
  const n = name.toLowerCase();
  const ap = typeof s.additionalProperties === "object" ? deref(s.additionalProperties, ctx) : {};
  const value = ap.enum ? undefined : ap.anyOf ? firstBranch(ap, ctx) : ap;
  if (ap.enum) return { [C.numeric]: ap.enum.includes("sum") ? "sum" : ap.enum[0] };
  const valueEnum = (ap.anyOf ?? []).map((b) => deref(b, ctx)).find((b) => b.enum)?.enum;
  if (valueEnum) return { [C.numeric2]: valueEnum.includes("float") ? "float" : valueEnum[0] };
  if (value?.type === "object" && value.properties) return { [C.numeric]: fillValue(n, value, ctx) };
  if (/derivation/.test(n)) return { h_total: `${C.numeric} * ${C.numeric2}` };
  if (/rule/.test(n)) return { h_positive: `${C.numeric} >= 0` };
  if (/values|fill/.test(n)) return { [C.numeric]: 0, [C.text]: "unknown" };
  if (/column name/.test(s.description ?? "")) return { [C.text]: "h_name" };
  return { A: "alpha", B: "beta" };
}

/** A value for one field of a parameter model. */
export function fillValue(name: string, raw: JsonSchema, ctx: FillContext): unknown {
  const s = raw.anyOf ? firstBranch(raw, ctx) : deref(raw, ctx);
  if (s.enum?.length) return s.default !== undefined && s.enum.includes(s.default) ? s.default : s.enum[0];
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  const n = name.toLowerCase();
  switch (type) {
    case "array":
      return arrayValue(name, s, ctx);
    case "object":
      return s.properties ? fillModel(s, ctx) : mapValue(name, s, ctx);
    case "integer":
      return n === "n" ? 3 : /index|value/.test(n) ? 1 : /threshold|seconds/.test(n) ? 60 : 1;
    case "number":
      return /fraction/.test(n) ? 0.5 : 1.0;
    case "boolean":
      return s.default ?? false;
    default:
      return stringValue(name, s, ctx);
  }
}

/** Values for the required fields of a model (a nested one or a transformer's parameter model). */
export function fillModel(model: JsonSchema, ctx?: FillContext): Record<string, unknown> {
  const c = ctx ?? { defs: model.$defs ?? {} };
  const out: Record<string, unknown> = {};
  for (const field of model.required ?? []) {
    const s = model.properties?.[field];
    if (s) out[field] = fillValue(field, s, c);
  }
  return out;
}

/** An input column parameter (`timestamp_col`) whose default names a column the harness data lacks (`"ts"`). */
function namesAbsentColumn(name: string, value: unknown): boolean {
  return (
    /_col$|_column$/.test(name) &&
    !/^(output|target|flag|session)/.test(name) &&
    typeof value === "string" &&
    !baseTable().columns.includes(value)
  );
}

/**
 * Parameter sets to offer odibi for a model, in order: the required fields alone (with any column parameter whose
 * default names a column the harness data lacks), then with each optional field that
 * has no default (or a null one) added in turn, then with all of them, then with every optional field. A model's own
 * validators can ask for more than its required fields (a join's `on`, "either target or connection and path"):
 * odibi picks (see chooseParams in introspect.ts), the first set its validation accepts is the harness's.
 */
export function paramCandidates(model: JsonSchema, hint?: string): Record<string, unknown>[] {
  const ctx = { defs: model.$defs ?? {}, hint };
  const optional = Object.entries(model.properties ?? {}).filter(
    ([k]) => !(model.required ?? []).includes(k),
  );
  // A default that names a column the data lacks would fail at run time, not at validation: always fill it.
  const base = {
    ...fillModel(model, ctx),
    ...Object.fromEntries(
      optional.filter(([k, s]) => namesAbsentColumn(k, s.default)).map(([k, s]) => [k, fillValue(k, s, ctx)]),
    ),
  };
  const open = optional.filter(([, s]) => s.default === undefined || s.default === null);
  const out: Record<string, unknown>[] = [base];
  for (const [k, s] of open) out.push({ ...base, [k]: fillValue(k, s, ctx) });
  if (open.length > 1)
    out.push({ ...base, ...Object.fromEntries(open.map(([k, s]) => [k, fillValue(k, s, ctx)])) });
  const withDefaults = optional.filter(([, s]) => s.default !== undefined && s.default !== null);
  if (withDefaults.length) {
    const [k, s] = withDefaults[0]!;
    out.push({ ...base, [k]: s.default ?? fillValue(k, s, ctx) });
  }
  const seen = new Set<string>();
  return out.filter((c) => {
    const key = JSON.stringify(c);
    if (seen.has(key) || Object.keys(c).length === 0) return false;
    seen.add(key);
    return true;
  });
}
