import { cpSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect, inject } from "vitest";
import { probeIsolation } from "../src/exec/jail.js";
import { readHarnessReport } from "../src/harness/run.js";
import { harnessDir, readHarnesses } from "../src/harness/write.js";
import { cli } from "./campaign-cli.js";
import { itWhen } from "./ci-required.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * The harness commands on the real odibi 3.15.1 (its sdist as Sacred), jailed: introspection finds every
 * transformer and pattern, a subset is validated and run, and a pattern that writes wrong data is a finding.
 */
const probe = await probeIsolation();
const withJail = itWhen(
  probe.available,
  `the bubblewrap jail does not work here (${probe.reason}): apt-get install bubblewrap`,
);

withJail(
  "harness generate | validate | run | gaps on odibi 3.15.1",
  async () => {
    const base = tempDir();
    const sacred = path.join(base, "odibi");
    cpSync(inject("odibiSource"), sacred, { recursive: true });
    await makeGitRepo(sacred, {});
    const root = path.join(base, "root");
    expect((await cli(["init", "--source", sacred, "--root", root, "--profile", "odibi"])).code).toBe(0);
    const golden = path.join(root, "golden");

    const gen = await cli(["--root", root, "harness", "generate"]);
    expect(gen.code, gen.err).toBe(0);
    expect(gen.out).toMatch(/odibi 3\.15\.1: 59 transformers, 6 patterns → 74 harnesses/);
    const harnesses = readHarnesses(golden);
    expect(harnesses.filter((h) => h.kind === "transformer")).toHaveLength(59);
    expect(readFileSync(path.join(harnessDir(golden), "README.md"), "utf8")).toContain(
      "| pattern_scd2 | scd2 |",
    );

    const some = "transformer_join,transformer_psychrometrics,pattern_fact,edge_unicode";
    const val = await cli(["--root", root, "harness", "validate", "--only", some]);
    expect(val.code, val.out + val.err).toBe(0);
    expect(val.out).toContain("4/4 harnesses pass; 0 finding(s)");

    const run = await cli([
      "--root",
      root,
      "harness",
      "run",
      "--only",
      "transformer_filter_rows,pattern_scd2",
    ]);
    // pattern_scd2 is a finding on 3.15.1: the scd2 transformer writes a connection-qualified target
    // (`out.h_dim_scd2.parquet`) as a literal file name, so the history never reaches the target the pattern reads.
    expect(run.code).toBe(1);
    expect(run.out).toContain("1/2 harnesses pass; 1 finding(s)");
    expect(run.out).toContain("harness:pattern_scd2/h_dim_scd2#expect: WrongOutput");
    expect(readFileSync(path.join(harnessDir(golden), "SUMMARY.md"), "utf8")).toContain(
      "| pattern_scd2 | h_dim_scd2 | WrongOutput:",
    );
    const report = readHarnessReport(golden)!;
    expect(report.harnesses.map((h) => [h.name, h.passed])).toEqual([
      ["pattern_scd2", false],
      ["transformer_filter_rows", true],
    ]);
    const f = report.findings[0]!;
    expect(f).toMatchObject({ harness: "pattern_scd2", node: "h_dim_scd2", errorType: "WrongOutput" });
    expect(f.config).toContain("type: scd2");
    expect(existsSync(path.join(f.dir, "data", "in", "second.csv"))).toBe(true);

    const gaps = await cli(["--root", root, "harness", "gaps"]);
    expect(gaps.code).toBe(0);
    expect(gaps.out).toContain("1/2 harnesses pass");
    expect(gaps.out).toContain("failing: pattern_scd2 (scd2)");
  },
  240_000,
);
