import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { ErrorJson, JSON_EVENTS, JSON_RESULTS, type JsonCommand } from "../src/cli/json-schemas.js";
import { buildProgram } from "../src/cli/main.js";
import { cli, LINT_FIXTURE } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * Every command's `--json` output against its zod schema (src/cli/json-schemas.ts), on the real CLI: JSON lines,
 * the stream's events first (run, demo, gates), the result (or error) last, its exitCode the process's.
 */
async function json<C extends JsonCommand>(
  command: C,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; result: z.infer<(typeof JSON_RESULTS)[C]>; events: unknown[] }> {
  const r = await cli(["--json", ...args], env);
  const lines = r.out.split("\n").filter((l) => l !== "");
  expect(lines.length, r.err).toBeGreaterThan(0);
  const parsed = lines.map((l) => JSON.parse(l) as unknown);
  const last = parsed.at(-1) as { exitCode: number };
  const events = parsed.slice(0, -1);
  const eventSchema = JSON_EVENTS[command];
  if (eventSchema) for (const e of events) eventSchema.parse(e);
  else expect(events, `${command} writes one JSON object`).toEqual([]);
  const checked = JSON_RESULTS[command].safeParse(last);
  expect(checked.error, `${command}: ${JSON.stringify(last).slice(0, 500)}\n${r.err}`).toBeUndefined();
  expect(r.code, "the process exits with the code its JSON states").toBe(last.exitCode);
  return { code: r.code, result: checked.data as z.infer<(typeof JSON_RESULTS)[C]>, events };
}

/** A command that fails: one JSON line, the error object, its exitCode the process's. */
async function jsonError(args: string[], env: Record<string, string> = {}) {
  const r = await cli(["--json", ...args], env);
  const lines = r.out.split("\n").filter((l) => l !== "");
  const error = ErrorJson.parse(JSON.parse(lines.at(-1) ?? "null"));
  expect(r.code).toBe(error.exitCode);
  return error;
}

it("every command of the program has its JSON result schema", () => {
  const names = buildProgram().commands.flatMap((c) =>
    c.commands.length ? c.commands.map((s) => `${c.name()} ${s.name()}`) : [c.name()],
  );
  expect(names.sort()).toEqual(Object.keys(JSON_RESULTS).sort());
});

describe("--json: one shape per command, exit codes that mean one thing", () => {
  let sacred: string;
  let root: string;
  const at = (...args: string[]) => ["--root", root, ...args];

  beforeAll(async () => {
    const base = tempDir();
    sacred = await makeGitRepo(path.join(base, "repo"), LINT_FIXTURE);
    root = path.join(base, "improve");
  });

  it("init, status, gates on Master (failing checks: 1), sandbox commands, snapshots", async () => {
    const init = await json("init", ["init", "--source", sacred, "--root", root, "--profile", "python"]);
    expect(init.result.profile).toBe("python");
    const status = await json("status", at("status"));
    expect(status.result.campaign).toBeNull();

    // The unused import fails lint: checks failed, exit 1, a gate_run line per gate before the result.
    const gates = await json("gates", at("gates", "--master"));
    expect(gates.code).toBe(1);
    expect(gates.result.target === "master" && gates.result.summary.lintErrors).toBe(1);
    expect(gates.events.map((e) => (e as { gate: string }).gate)).toEqual(["lint", "tests"]);

    const box = await json("sandbox create", at("sandbox", "create", "5"));
    expect(box.result.id).toBe("cycle_005");
    expect((await json("sandbox list", at("sandbox", "list"))).result.sandboxes.map((s) => s.id)).toEqual([
      "cycle_005",
    ]);
    // A candidate that breaks the test: not promotable, 1.
    writeFileSync(path.join(box.result.path, "pkg/core.py"), "def add(a, b):\n    return a - b\n");
    const sandbox = await json("gates", at("gates", "--sandbox", "5"));
    expect(sandbox.code).toBe(1);
    expect(sandbox.result.target === "sandbox" && sandbox.result.verdict.promotable).toBe(false);
    expect((await json("sandbox destroy", at("sandbox", "destroy", "5"))).result.destroyed).toBe("cycle_005");

    expect((await json("snapshot", at("snapshot", "--name", "s1"))).result.name).toBe("s1");
    expect((await json("snapshots", at("snapshots"))).result.snapshots.map((s) => s.name)).toContain("s1");
    expect((await json("rollback", at("rollback", "s1"))).result.snapshot.name).toBe("s1");
  });

  it("harness gaps --coverage: the tests' line and branch coverage of Master's package (status shows it)", async () => {
    const gaps = await json("harness gaps", at("harness", "gaps", "--coverage"));
    expect(gaps.result.odibiVersion).toBeNull(); // a python repository: no harnesses, coverage only
    const cov = gaps.result.coverage!;
    expect(cov.measuredBy).toMatch(/^tests only/);
    expect(cov.modules.map((m) => [m.file, m.covered, m.statements, m.uncovered])).toEqual([
      ["pkg/core.py", 3, 3, ""],
    ]);
    expect(cov.totals.percent).toBe(100);
    // Cached by Master's tree: read back without measuring; status has the totals.
    const again = await json("harness gaps", at("harness", "gaps"));
    expect(again.result.coverage!.measuredAt).toBe(cov.measuredAt);
    expect((await json("status", at("status"))).result.coverage).toMatchObject({ totals: { percent: 100 } });
  });

  it("run streams events and ends with a summary: campaign id, reason, counts, report; exit = its code", async () => {
    const run = await json("run", at("run", "--no-llm", "--max-cycles", "1"));
    const { result } = run;
    if ("detached" in result) throw new Error("a campaign run, not a detached start");
    expect(result.counts).toEqual({ cycles: 1, promoted: 1, rejected: 0 });
    expect(result.reason).toBe("MAX_CYCLES_REACHED");
    expect(run.code).toBe(3); // stopped by a limit
    expect(existsSync(result.reportPath!)).toBe(true);
    // One decision vocabulary: the stream, the campaign record and the report say "promoted".
    const decisions = run.events.filter((e) => (e as { type: string }).type === "decision");
    expect(decisions).toMatchObject([{ action: "promoted" }]);
    expect(readFileSync(path.join(root, "reports", "cycle_001_report.md"), "utf8")).toContain("**promoted**");
    expect(readFileSync(path.join(root, "events.jsonl"), "utf8")).toMatch(
      /"type":"decision".*"action":"promoted"/,
    );

    const campaigns = await json("campaigns", at("campaigns"));
    expect(campaigns.result.campaigns).toMatchObject([
      { campaignId: result.campaignId, counts: result.counts, reportPath: result.reportPath },
    ]);
    const report = await json("report", at("report"));
    expect(report.result.reports).toEqual([
      { campaignId: result.campaignId, reportPath: result.reportPath, htmlPath: expect.any(String) },
    ]);
    expect((await json("report", at("report", "--all"))).result.reports).toHaveLength(1);
    expect((await json("status", at("status"))).result.campaign?.campaign_id).toBe(result.campaignId);
    expect((await json("stop", at("stop"))).result).toMatchObject({ running: false, campaignId: null });

    // Master is clean now: gates pass, 0.
    expect((await json("gates", at("gates", "--master"))).code).toBe(0);
    const exported = await json("export", at("export", "--out", path.join(tempDir(), "export")));
    expect(exported.result.commits).toBe(1);
    const applied = await json("apply", at("apply"));
    expect(applied.result.commits).toBe(1);
    const resynced = await json("resync", at("resync"));
    expect(resynced.result.kept).toHaveLength(1);

    // An event log written before the one vocabulary ("reject") is read in today's words, counted and reported so.
    const eventsFile = path.join(root, "events.jsonl");
    writeFileSync(
      eventsFile,
      readFileSync(eventsFile, "utf8").replace(/("type":"decision".*"action":)"promoted"/, '$1"reject"'),
    );
    const old = await json("campaigns", at("campaigns"));
    expect(old.result.campaigns[0]?.counts.rejected).toBe(1);
    await json("report", at("report"));
    expect(readFileSync(result.reportPath!, "utf8")).toMatch(/\| rejected \|/);
  });

  it("a tool that fails is 4, bad input is 2, never taken for failing checks", async () => {
    // The gates' venv is broken: the tool cannot run the checks (it used to exit 1, as for failing checks).
    const venv = path.join(tempDir(), "venv");
    mkdirSync(path.join(venv, "bin"), { recursive: true });
    symlinkSync("/nonexistent/python3.11", path.join(venv, "bin", "python"));
    const broken = await jsonError(at("gates", "--master", "--no-cache"), { ODIBI_IMPROVE_VENV: venv });
    expect(broken).toMatchObject({ command: "gates", exitCode: 4, error: "MissingTool" });

    expect(await jsonError(at("gates", "--master", "--sandbox", "1"))).toMatchObject({
      command: "gates",
      exitCode: 2,
    });
    expect(await jsonError(at("sandbox", "destroy", "404"))).toMatchObject({ command: "sandbox destroy" });
    expect((await jsonError(["frobnicate"])).exitCode).toBe(2);
    expect((await jsonError(["status", "--root", path.join(tempDir(), "none")])).exitCode).toBe(2);
  });

  it("doctor, schema and setup print one object", async () => {
    const doctor = await json("doctor", ["doctor"]);
    expect(doctor.result.ok).toBe(doctor.code === 0);
    expect(doctor.result.checks.find((c) => c.name === "git")?.ok).toBe(true);
    expect((await json("schema", ["schema"])).result.schema).toHaveProperty("properties");
    expect((await json("setup", ["setup"])).result.venv).toBeTruthy();
  });

  it("demo states the exit code it exits with", async () => {
    const demo = await json("demo", ["demo", "--dir", path.join(tempDir(), "demo"), "--max-cycles", "1"]);
    expect(demo.result.reason).toBe("MAX_CYCLES_REACHED");
    expect(demo.code).toBe(3);
    expect(demo.result.counts.cycles).toBe(1);
    expect(existsSync(demo.result.reportPath!)).toBe(true);
  });
});
