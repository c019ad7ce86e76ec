import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/load.js";
import { cli } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/** Absurd values and a missing source are configuration errors at their file:line:col, exit 2 (never a run). */

const good = 'source:\n  sacred_repo: "D:/odibi/odibi"\n';

describe("absurd configuration values point at the value", () => {
  it.each([
    ["gates:\n  timeout_seconds: 0\n", "4:20", "gates.timeout_seconds"],
    ["gates:\n  timeout_seconds: -5\n", "4:20", "gates.timeout_seconds"],
    ["gates:\n  timeout_seconds: 1000000\n", "4:20", "gates.timeout_seconds"],
    ["stop_conditions:\n  max_hours: 0\n", "4:14", "stop_conditions.max_hours"],
    ["stop_conditions:\n  max_hours: 10000\n", "4:14", "stop_conditions.max_hours"],
    ["stop_conditions:\n  max_cycles: 0\n", "4:15", "stop_conditions.max_cycles"],
    ["stop_conditions:\n  max_cycles: 1000001\n", "4:15", "stop_conditions.max_cycles"],
    ["stop_conditions:\n  convergence_cycles: 0\n", "4:23", "stop_conditions.convergence_cycles"],
    ["llm:\n  max_attempts: 100000\n", "4:17", "llm.max_attempts"],
    ["llm:\n  attempt_timeout_seconds: 0\n", "4:28", "llm.attempt_timeout_seconds"],
    ["llm:\n  max_attempt_tokens: 0\n", "4:23", "llm.max_attempt_tokens"],
    ["llm:\n  request_timeout_seconds: 864000\n", "4:28", "llm.request_timeout_seconds"],
    ["campaign:\n  max_hours: 9000\n", "4:14", "campaign.max_hours"],
    ["campaign:\n  max_cycles: 0\n", "4:15", "campaign.max_cycles"],
    [
      "campaign:\n  max_improvement_attempts_per_cycle: 5000\n",
      "4:39",
      "campaign.max_improvement_attempts_per_cycle",
    ],
  ])("%j", (yaml, where, key) => {
    expect(() => parseConfig(`${good}${yaml}`, "c.yaml")).toThrow(`c.yaml:${where}: ${key}: `);
  });

  it("sensible values load", () => {
    const c = parseConfig(
      `${good}gates:\n  timeout_seconds: 86400\nstop_conditions:\n  max_hours: 168\n  max_cycles: 100000\n`,
      "c.yaml",
    );
    expect(c.gates.timeout_seconds).toBe(86400);
    expect(c.stop_conditions).toMatchObject({ max_hours: 168, max_cycles: 100000 });
  });
});

describe("through the real CLI", () => {
  it("init --source <nothing there> exits 2 naming the path", async () => {
    const base = tempDir();
    const missing = path.join(base, "no-such-repo");
    const r = await cli(["init", "--source", missing, "--root", path.join(base, "root")]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`source ${missing} does not exist`);
  });

  it("an absurd max_hours in config.yaml stops `run` with file:line:col, exit 2", async () => {
    const base = tempDir();
    const sacred = await makeGitRepo(path.join(base, "repo"), { "a.py": "x = 1\n" });
    const root = path.join(base, "root");
    expect((await cli(["init", "--source", sacred, "--root", root, "--profile", "generic"])).code).toBe(0);
    const cfg = path.join(root, "config.yaml");
    const text = readFileSync(cfg, "utf8").replace(/max_hours: 4/, "max_hours: 0");
    writeFileSync(cfg, text);
    const line = text.split("\n").findIndex((l) => l.includes("max_hours: 0")) + 1;
    const r = await cli(["--root", root, "run", "--no-llm"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${cfg}:${line}:14: stop_conditions.max_hours: `);
  });

  it("flags are held to the same bounds: --max-hours 10000 is a usage error, exit 2", async () => {
    const base = tempDir();
    const sacred = await makeGitRepo(path.join(base, "repo"), { "a.py": "x = 1\n" });
    const root = path.join(base, "root");
    expect((await cli(["init", "--source", sacred, "--root", root, "--profile", "generic"])).code).toBe(0);
    const r = await cli(["--root", root, "run", "--no-llm", "--max-hours", "10000"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--max-hours takes a positive number, at most 168");
  });

  it("a source path that is gone is an error at source.sacred_repo, exit 2", async () => {
    const base = tempDir();
    const sacred = await makeGitRepo(path.join(base, "repo"), { "a.py": "x = 1\n" });
    const root = path.join(base, "root");
    expect((await cli(["init", "--source", sacred, "--root", root, "--profile", "generic"])).code).toBe(0);
    renameSync(sacred, path.join(base, "moved"));
    const r = await cli(["--root", root, "status"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /config\.yaml:\d+:\d+: source\.sacred_repo: the source repository .*repo does not exist/,
    );
  });
});
