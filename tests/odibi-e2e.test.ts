import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect, inject, it } from "vitest";
import type { Check, GateRun } from "../src/core/types.js";
import { ImprovementEnvironment } from "../src/environment/environment.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { lintGate } from "../src/gates/lint-gate.js";
import { profileOf } from "../src/profiles/index.js";
import {
  goldenGate,
  odibiGateContext,
  prepareOdibiEnvironment,
  validateGate,
} from "../src/profiles/odibi/index.js";
import { sacredWitness, tempDir } from "./helpers.js";

/**
 * End to end on the real odibi 3.15.1: its sdist as Sacred, an environment, golden projects from its own
 * templates, ruff + validate + golden on Master, then a bug injected into a transformer in a sandbox.
 */

/** The bug: the pandas SCD2 transformer (used by the dimension pattern with scd_type 2) reads a missing attribute. */
const SCD = path.join("odibi", "transformers", "scd.py");
const SCD_ANCHOR = "    logger = logging.getLogger(__name__)\n\n    # Try using DuckDB";

const failing = (r: GateRun) => r.checks.filter((c) => c.status === "fail");
const ids = (cs: Check[]) => cs.map((c) => c.id).sort();

it("gates see Master green and report exactly the node a sandbox bug breaks", async () => {
  const sacred = path.join(tempDir(), "odibi-sacred");
  cpSync(inject("odibiSource"), sacred, { recursive: true });
  const witness = sacredWitness(sacred);
  const root = path.join(tempDir(), "root");
  const env = await ImprovementEnvironment.init({ source: sacred, root, profile: profileOf("odibi") });
  const venv = inject("venv");
  // What `init` does for the odibi profile.
  const projects = await prepareOdibiEnvironment(env, { venv });
  expect(projects.map((p) => p.name)).toEqual(["hello", "scd2", "star-schema"]);
  const goldenBefore = takeFingerprint(env.layout.golden).digest;

  const ctxFor = (workdir: string, name: string) =>
    odibiGateContext({
      workdir,
      venv,
      config: env.config,
      goldenDir: env.layout.golden,
      outputDir: path.join(env.layout.stories, name),
      timeoutMs: 180_000,
    });

  // ---- Master: the baseline --------------------------------------------------------------------------------
  const master = ctxFor(env.layout.master, "master");
  const lint = await lintGate.run(master);
  expect(lint.error).toBeUndefined();
  // odibi 3.15.1's own tree is ruff-clean with its own configuration; any finding would be a recorded baseline.
  const lintBaseline = ids(failing(lint));
  expect(lintBaseline).toEqual([]);

  const validate = await validateGate.run(master);
  expect(validate.checks.map((c) => [c.id, c.status])).toEqual([
    ["validate:hello", "pass"],
    ["validate:scd2", "pass"],
    ["validate:star-schema", "pass"],
  ]);

  const golden = await goldenGate.run(master);
  expect(failing(golden)).toEqual([]);
  const nodeIds = ids(golden.checks.filter((c) => c.id.split("/").length === 3));
  expect(nodeIds).toEqual([
    "golden:hello/ingest/ingest_customers",
    "golden:scd2/dimensions/dim_customer",
    "golden:star-schema/build_dimensions/dim_customer",
    "golden:star-schema/build_dimensions/dim_date",
    "golden:star-schema/build_dimensions/dim_product",
    "golden:star-schema/build_facts/dim_customer",
    "golden:star-schema/build_facts/dim_date",
    "golden:star-schema/build_facts/dim_product",
    "golden:star-schema/build_facts/fact_sales",
  ]);

  // ---- A sandbox with a bug in a transformer -------------------------------------------------------------
  const sandbox = await env.createSandbox(1);
  const scd = path.join(sandbox.path, SCD);
  const source = readFileSync(scd, "utf8");
  expect(source).toContain(SCD_ANCHOR);
  writeFileSync(
    scd,
    source.replace(
      SCD_ANCHOR,
      "    logger = logging.getLogger(__name__)\n    source_df = source_df.nonexistent_column_typo\n\n    # Try using DuckDB",
    ),
  );
  const cand = ctxFor(sandbox.path, "cycle-1");
  expect(failing(await lintGate.run(cand))).toEqual([]);
  const candGolden = await goldenGate.run(cand);
  const newFailures = failing(candGolden);
  expect(ids(newFailures)).toEqual([
    "golden:scd2",
    "golden:scd2/dimensions",
    "golden:scd2/dimensions/dim_customer",
  ]);
  const node = newFailures.find((c) => c.id === "golden:scd2/dimensions/dim_customer")!;
  expect(node.errorType).toBe("AttributeError");
  expect(node.message).toBe("AttributeError: 'DataFrame' object has no attribute 'nonexistent_column_typo'");
  expect(node.detail).toContain("Node execution failed: dim_customer");
  expect(candGolden.checks.find((c) => c.id === "golden:scd2/dimensions")?.message).toBe(
    "1 of 1 nodes failed: dim_customer",
  );
  // Everything else still passes: the bug is only reachable through SCD type 2.
  const passedBefore = ids(golden.checks.filter((c) => c.status === "pass"));
  expect(ids(candGolden.checks.filter((c) => c.status === "pass"))).toEqual(
    passedBefore.filter((id) => !id.startsWith("golden:scd2")),
  );

  // ---- Master is untouched and still green; so are the golden inputs and Sacred ---------------------------
  expect(await env.masterDirty()).toEqual([]);
  expect(readFileSync(path.join(env.layout.master, SCD), "utf8")).toBe(source);
  const again = await goldenGate.run(ctxFor(env.layout.master, "master-again"), { only: ["golden:scd2"] });
  expect(again.checks.length).toBeGreaterThan(0);
  expect(failing(again)).toEqual([]);
  expect(takeFingerprint(env.layout.golden).digest).toBe(goldenBefore);
  expect(witness.digestNow()).toBe(witness.before.digest);
}, 600_000);
