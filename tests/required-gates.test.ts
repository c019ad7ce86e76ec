import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/load.js";
import { type RequiredGatesConfig, requiredGates } from "../src/config/required-gates.js";
import { ConfigError } from "../src/core/errors.js";
import { git } from "../src/environment/git.js";
import { profileOf } from "../src/profiles/index.js";
import { cli, initDemoTarget } from "./campaign-cli.js";
import { resultJson } from "./helpers.js";

const odibi = profileOf("odibi").gates;
const python = profileOf("python").gates;

describe("requiredGates: gates.required and the require_* keys, against the profile's gates", () => {
  it.each<[string, RequiredGatesConfig, typeof odibi, string[], string[]?]>([
    ["nothing set: every gate of the profile", {}, odibi, ["lint", "validate", "tests", "golden"]],
    ["nothing set, python", {}, python, ["lint", "tests"]],
    ["the list only", { required: ["tests"] }, odibi, ["tests"]],
    ["the list, in cascade order", { required: ["golden", "lint"] }, odibi, ["lint", "golden"]],
    ["an empty list: no gate", { required: [] }, python, []],
    [
      "aliases only: false leaves a gate out",
      { require_ruff_clean: false },
      odibi,
      ["validate", "tests", "golden"],
    ],
    [
      "aliases only: odibi's two off",
      { require_odibi_validate: false, require_golden_projects: false, require_pytest_pass: true },
      odibi,
      ["lint", "tests"],
    ],
    [
      "the key of a gate the profile does not run is ignored",
      { require_odibi_validate: true },
      python,
      ["lint", "tests"],
    ],
    [
      "both, in agreement",
      { required: ["lint", "tests"], require_ruff_clean: true, require_golden_projects: false },
      odibi,
      ["lint", "tests"],
    ],
    [
      "both, a key true for a gate the list leaves out",
      { required: ["tests"], require_ruff_clean: true },
      python,
      ["tests"],
      ["gates.require_ruff_clean: true contradicts gates.required, which does not list lint"],
    ],
    [
      "both, a key false for a gate the list names",
      { required: ["tests"], require_pytest_pass: false },
      python,
      ["tests"],
      ["gates.require_pytest_pass: false contradicts gates.required, which lists tests"],
    ],
    [
      "an unknown name",
      { required: ["tests", "lnt"] },
      python,
      ["tests"],
      ['gates.required.1: unknown gate "lnt": this profile\'s gates are lint, tests'],
    ],
  ])("%s", (_, gates, profileGates, names, problems = []) => {
    const r = requiredGates(gates, profileGates);
    expect(r.names).toEqual(names);
    expect(
      r.problems.map((p) => `${p.path.join(".")}: ${p.message}`.replace(/ \(remove one of the two\)$/, "")),
    ).toEqual(problems);
  });
});

describe("config.yaml's gates.required at load", () => {
  const good = 'source:\n  sacred_repo: "D:/odibi/odibi"\nprofile: python\n';
  const load = (text: string) => parseConfig(text, "c.yaml");
  const requiredOf = (text: string) => requiredGates(load(text).gates, python).names;

  it("an unknown gate name is an error at its line and column", () => {
    expect(() => load(`${good}gates:\n  required:\n    - tests\n    - lnt\n`)).toThrow(
      /^c\.yaml:7:7: gates\.required\.1: unknown gate "lnt": this profile's gates are lint, tests/,
    );
    // odibi's gates are not python's.
    expect(() => load(`${good}gates:\n  required: [tests, golden]\n`)).toThrow(
      /c\.yaml:5:21: gates\.required\.1/,
    );
    expect(() =>
      load(`${good.replace("python", "odibi")}gates:\n  required: [tests, golden]\n`),
    ).not.toThrow();
  });

  it("a require_* key that contradicts the list is an error at the key, with a hint", () => {
    let err: ConfigError | undefined;
    try {
      load(`${good}gates:\n  required: [tests]\n  require_ruff_clean: true\n`);
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toMatch(/^c\.yaml:6:3: gates\.require_ruff_clean: true contradicts/);
    expect(err!.hint).toMatch(/gates\.required/);
  });

  it("the require_* keys and the roadmap's names under campaign: stay aliases", () => {
    expect(requiredOf(good)).toEqual(["lint", "tests"]);
    expect(requiredOf(`${good}gates:\n  require_ruff_clean: false\n`)).toEqual(["tests"]);
    expect(requiredOf(`${good}campaign:\n  require_lint_clean: false\n`)).toEqual(["tests"]);
    expect(
      requiredOf(`${good}gates:\n  require_ruff_clean: false\ncampaign:\n  require_lint_clean: true\n`),
    ).toEqual(["lint", "tests"]);
    expect(requiredOf(`${good}gates:\n  required: [tests]\n  require_pytest_pass: true\n`)).toEqual([
      "tests",
    ]);
  });
});

describe("gates.required: [tests] on a python repo with lint errors (the CLI)", () => {
  it("the lint gate does not run, so a campaign has no lint work and promotes nothing", async () => {
    const { root, config: configFile } = await initDemoTarget(["--profile", "python"]);
    const written = readFileSync(configFile, "utf8");
    // init lists the profile's gates by name.
    expect(written).toContain("gates:\n  required:\n    - lint\n    - tests\n");

    // A roadmap alias that contradicts the list: exit 2 naming the key's line.
    writeFileSync(configFile, written.replace("gates:\n", "gates:\n  require_ruff_clean: false\n"));
    const contradiction = await cli(["--root", root, "gates", "--master"]);
    expect(contradiction.code).toBe(2);
    expect(contradiction.err).toMatch(/config\.yaml:\d+:3: gates\.require_ruff_clean: false contradicts/);

    writeFileSync(configFile, written.replace("    - lint\n", ""));
    const gates = await cli(["--root", root, "--json", "gates", "--master"]);
    const master = resultJson(gates.out);
    expect(master.result.runs.map((r: { gate: string }) => r.gate)).toEqual(["tests"]);
    expect(master.summary.lintErrors).toBe(0);

    const run = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "3", "--convergence", "1"]);
    expect(run.err).not.toMatch(/error:/);
    expect(run.code).toBe(0);
    expect(run.out).not.toMatch(/lint failure/);
    expect((await git(path.join(root, "master"), ["log", "--format=%s", "sacred..HEAD"])).trim()).toBe("");

    // The same repository with every gate (init's config): the campaign promotes a lint fix.
    writeFileSync(configFile, written);
    const all = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "1"]);
    expect(all.err).not.toMatch(/error:/);
    expect(all.code).toBe(3); // the cycle limit
    expect(await git(path.join(root, "master"), ["log", "--format=%s", "sacred..HEAD"])).toMatch(
      /lint failure F401/,
    );
  });
});
