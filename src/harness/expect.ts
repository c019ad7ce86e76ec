import path from "node:path";
import { z } from "zod";
import type { Check } from "../core/types.js";
import type { GateContext } from "../gates/gate.js";
import type { Expectation } from "./project.js";

/**
 * A harness's expected results, checked from what odibi wrote (not from its story: a pattern can report success and
 * still write wrong data). A Python script in the gates' environment reads each output with pandas and says, per
 * expectation, what differs.
 */
export const CHECK_OUTPUT_PY = `
import json, os, sys
import pandas as pd
spec = json.load(sys.stdin)
base = spec["base"]
results = []

def norm(v):
    if v is None or (isinstance(v, float) and v != v):
        return None
    if hasattr(v, "item"):
        v = v.item()
    return v

def check(e):
    p = os.path.join(base, e["output"])
    if not os.path.exists(p):
        return ["no output at data/out/%s" % e["output"]]
    try:
        df = pd.read_parquet(p)
    except Exception as ex:
        return ["output not readable: %s: %s" % (type(ex).__name__, ex)]
    bad = []
    cols = [str(c) for c in df.columns]
    if "rows" in e and len(df) != e["rows"]:
        bad.append("%d rows, expected %d" % (len(df), e["rows"]))
    if "minRows" in e and len(df) < e["minRows"]:
        bad.append("%d rows, expected at least %d" % (len(df), e["minRows"]))
    if "minColumns" in e and len(cols) < e["minColumns"]:
        bad.append("%d columns, expected at least %d" % (len(cols), e["minColumns"]))
    missing = [c for c in e.get("columns", []) if c not in cols]
    if missing:
        bad.append("missing columns %s (has %s)" % (missing, cols[:20]))
        return bad
    if e.get("unique") and len(df) and df.duplicated(subset=e["unique"]).any():
        bad.append("duplicate %s: %s" % (e["unique"], df[df.duplicated(subset=e["unique"], keep=False)][e["unique"]].head(5).to_dict("records")))
    for c in e.get("contains", []):
        if c["column"] not in cols or not any(norm(v) == c["value"] or str(norm(v)) == str(c["value"]) for v in df[c["column"]]):
            bad.append("no row with %s = %r" % (c["column"], c["value"]))
    if "values" in e:
        col = e["values"]["column"]
        got = sorted((str(norm(v)) for v in df[col]) if col in cols else [])
        want = sorted(str(v) for v in e["values"]["equals"])
        if got != want:
            bad.append("%s is %s, expected %s" % (col, got[:12], want[:12]))
    for c in e.get("allNull", []):
        if c in cols and df[c].notna().any():
            bad.append("%s has values, expected all null" % c)
    for c in e.get("notNull", []):
        if c in cols and df[c].isna().any():
            bad.append("%s has %d null(s)" % (c, int(df[c].isna().sum())))
    s = e.get("scd2")
    if s:
        need = [s["validFrom"], s["validTo"], s["current"]] + s["keys"]
        absent = [c for c in need if c not in cols]
        if absent:
            bad.append("no SCD2 columns %s (has %s)" % (absent, cols))
        else:
            cur = df[df[s["current"]].astype(bool)]
            if len(cur) != s["currentRows"]:
                bad.append("%d current rows, expected %d" % (len(cur), s["currentRows"]))
            if cur.duplicated(subset=s["keys"]).any():
                bad.append("a key has more than one current row")
            closed = df[~df[s["current"]].astype(bool)]
            if closed[s["validTo"]].isna().any():
                bad.append("a closed version has no %s" % s["validTo"])
            if cur[s["validTo"]].notna().any():
                bad.append("a current version has a %s" % s["validTo"])
            if df.duplicated(subset=s["keys"] + [s["validFrom"]]).any():
                bad.append("two versions of a key start at the same %s" % s["validFrom"])
    return bad

for e in spec["expectations"]:
    results.append({"node": e["node"], "output": e["output"], "problems": check(e)})
print("ODIBI_HARNESS_EXPECT_BEGIN")
print(json.dumps(results, default=str))
sys.stdout.flush()
# Skip the interpreter's teardown: pyarrow's threads can abort it ("terminate called without an active exception",
# exit 134) after the results are out.
os._exit(0)
`;

const ResultSchema = z.array(
  z.object({ node: z.string(), output: z.string(), problems: z.array(z.string()) }),
);

/** `harness:<name>/<node>#expect`: the node's written output against the harness's expectation. */
export function expectationCheckId(harness: string, node: string): string {
  return `harness:${harness}/${node}#expect`;
}

/** Check a harness's outputs under `<runDir>/data/out` (pandas in the gates' venv, the context's jail). */
export async function checkExpectations(
  ctx: GateContext,
  harness: string,
  runDir: string,
  expectations: Expectation[],
  config: string,
): Promise<Check[]> {
  if (expectations.length === 0) return [];
  const r = await ctx.workspace.exec("python", ["-c", CHECK_OUTPUT_PY], {
    cwd: runDir,
    env: { ...ctx.env, PYTHONDONTWRITEBYTECODE: "1" },
    input: JSON.stringify({ base: path.join(runDir, "data", "out"), expectations }),
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
  });
  const at = r.stdout.lastIndexOf("ODIBI_HARNESS_EXPECT_BEGIN");
  if (r.exitCode !== 0 || at < 0)
    return [
      {
        gate: "golden",
        id: `harness:${harness}#expect`,
        file: config,
        status: "fail",
        errorType: "ExpectationCheckCrashed",
        message: `checking the outputs failed (exit ${r.exitCode})`,
        detail: (r.stderr || r.stdout).slice(-3000),
      },
    ];
  const results = ResultSchema.parse(JSON.parse(r.stdout.slice(at + "ODIBI_HARNESS_EXPECT_BEGIN".length)));
  return results.map((res, i) => {
    const e = expectations[i]!;
    const base = { gate: "golden" as const, id: expectationCheckId(harness, res.node), file: config };
    if (res.problems.length === 0) return { ...base, status: "pass" as const, message: e.why };
    return {
      ...base,
      status: "fail" as const,
      errorType: "WrongOutput",
      message: `${res.node}: ${res.problems.join("; ")}`,
      detail: `expected: ${e.why}\n${JSON.stringify(e, null, 1)}`,
    };
  });
}
