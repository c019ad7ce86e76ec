import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Check, GateRun } from "../src/core/types.js";
import { PROFILES } from "../src/core/types.js";
import { ImprovementEnvironment } from "../src/environment/environment.js";
import { makeGateContext } from "../src/gates/context.js";
import { buildGateEnv } from "../src/gates/env.js";
import type { Gate } from "../src/gates/gate.js";
import { lintGate } from "../src/gates/lint-gate.js";
import { checkGates } from "../src/gates/pipeline.js";
import { testsGate } from "../src/gates/tests-gate.js";
import { oracleGlobs } from "../src/policy/oracle.js";
import {
  COMMON_ORACLE,
  detectProfile,
  type Profile,
  profileOf,
  profiles,
  registerProfile,
} from "../src/profiles/index.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * docs/architecture.md "Add a language", followed with a language defined here only: an `example.toml` marks its
 * repositories, `node --check` is its lint and `node --test` its tests, and it brings a gate of its own. Real init
 * (git clone into Master, config.yaml written and read back), real gate commands.
 */

/** Step 3 of the walkthrough: a gate of the language's own, reading the tree through the workspace. */
const readmeGate: Gate = {
  name: "readme",
  applies: () => true,
  async run(ctx) {
    const started = performance.now();
    let check: Check;
    try {
      const text = ctx.workspace.read("README.md");
      check = text.includes("## Usage")
        ? { gate: "readme", id: "README.md", status: "pass" }
        : { gate: "readme", id: "README.md", status: "fail", message: "no ## Usage section" };
    } catch (e) {
      check = { gate: "readme", id: "README.md", status: "fail", message: String(e) };
    }
    const run: GateRun = {
      gate: "readme",
      checks: [check],
      durationMs: Math.round(performance.now() - started),
    };
    return run;
  },
};

/** Steps 1-2: the profile object. */
const exampleProfile: Profile = {
  name: "example",
  description: "Example: node --check, node --test, a README check",
  detect: (repo) => existsSync(path.join(repo, "example.toml")),
  commands: () => ({ lint: "node --check calc.js", test: "node --test" }),
  gates: [lintGate, testsGate, readmeGate],
  // What reaches every gate command: the calc test below passes only when this variable is there.
  gateEnv: ({ venv }) => buildGateEnv({ venv, extra: { EXAMPLE_FACTOR: "2" } }),
  oracle: [...COMMON_ORACLE, "*.test.js", "example.toml"],
  usesVenv: false,
};

const FILES = {
  "example.toml": "[example]\n",
  "README.md": "# calc\n\nNo usage yet.\n",
  "calc.js": "exports.double = (x) => x * Number(process.env.EXAMPLE_FACTOR ?? 1);\n",
  "calc.test.js": [
    'const test = require("node:test");',
    'const assert = require("node:assert");',
    'const { double } = require("./calc.js");',
    'test("doubles", () => assert.strictEqual(double(2), 4));',
    'test("triples", () => assert.strictEqual(double(2), 6));',
    "",
  ].join("\n"),
};

describe("a profile defined outside src/ (docs/architecture.md, Add a language)", () => {
  it("is detected, written by init, read back from config.yaml, and its gates judge the tree", async () => {
    // Step 4: registered (a built-in one is listed in src/profiles/index.ts and src/core/types.ts PROFILES).
    registerProfile(exampleProfile);
    const base = tempDir();
    const sacred = await makeGitRepo(path.join(base, "sacred"), FILES);

    const profile = detectProfile(sacred);
    expect(profile.name).toBe("example");
    const env = await ImprovementEnvironment.init({ source: sacred, root: path.join(base, "root"), profile });
    const reopened = ImprovementEnvironment.open(env.root);
    expect(reopened.config.profile).toBe("example");
    // init lists its gates (no validate or golden gate) in gates.required.
    expect(reopened.config.gates.required).toEqual(profile.gates.map((g) => g.name));
    expect(oracleGlobs("example")).toContain("*.test.js");

    const ctx = makeGateContext({
      workdir: reopened.layout.master,
      config: reopened.config,
      profile: profileOf(reopened.config.profile),
      goldenDir: reopened.layout.golden,
      outputDir: path.join(base, "out"),
    });
    expect(ctx.commands).toEqual({ lint: "node --check calc.js", test: "node --test" });
    const result = await checkGates(ctx, { flakeReruns: 0 });
    const seen = result.runs.map((r) => [r.gate, r.checks.map((c) => `${c.id}=${c.status}`).sort()]);
    expect(seen).toEqual([
      ["lint", ["command=pass"]],
      ["tests", ["doubles=pass", "triples=fail"]],
      ["readme", ["README.md=fail"]],
    ]);
  });

  it("every built-in profile has its name in config.yaml's schema, and the registry asks generic last", () => {
    const builtIn = profiles().filter((p) => p !== exampleProfile);
    expect(builtIn.map((p) => p.name).sort()).toEqual([...PROFILES].sort());
    expect(profiles().at(-1)!.name).toBe("generic");
    expect(() => profileOf("cobol")).toThrow(/unknown profile "cobol"/);
  });
});
