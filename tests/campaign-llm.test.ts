import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { gunzipSync, inflateSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { git } from "../src/environment/git.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { runProcess } from "../src/exec/run-process.js";
import { cli, initPythonRoot, jsonl, runWithLlm } from "./campaign-cli.js";
import { tempDir } from "./helpers.js";
import { CALC_FILES } from "./llm-fixtures.js";
import {
  requestText,
  type Script,
  type ScriptedLlmServer,
  type ScriptedReply,
  startLlmServer,
} from "./llm-server.js";

/**
 * Issue 5 at campaign level: the real CLI (`init`, then `run --llm-provider openai-compatible --llm-base-url …`)
 * against the scripted model server in this process. The brain talks to it through the real AI SDK over HTTP; the
 * gates are real ruff and pytest; promotion, memory, reports and status are the campaign's own.
 */

const MODEL = "scripted-model";

let server: ScriptedLlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Sacred = the calc fixture (`add` subtracts, test_add fails); an environment with the python profile. */
// No flake reruns: the fixture is deterministic. The `llm:` section sets what the flags do not.
const setup = (llmConfig: string, files: Record<string, string> = {}) =>
  initPythonRoot({ ...CALC_FILES, ...files }, { name: "calc", llmConfig });

async function runCampaign(root: string, key: string, script: Script, extra: string[]) {
  server = await startLlmServer(script);
  return runWithLlm(root, server.origin, MODEL, key, extra);
}

/** A conftest that writes binary test data into the work tree at every pytest run. */
const WRITES_TEST_DATA = [
  "import pathlib",
  "",
  "",
  "def pytest_sessionstart(session):",
  '    out = pathlib.Path(__file__).parent.parent / "artifacts"',
  "    out.mkdir(exist_ok=True)",
  '    (out / "run.bin").write_bytes(bytes(range(256)))',
  "",
].join("\n");

const plantedKey = () => `sk-planted-${process.pid}-${Date.now().toString(36)}-c4mpa1gn`;

/** Every byte under `dir`: raw files, gunzipped snapshots, inflated loose git objects, and every object of every repo. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  const repos: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) {
        if (name === ".git" || (existsSync(path.join(p, "HEAD")) && existsSync(path.join(p, "objects"))))
          repos.push(p);
        walk(p);
        continue;
      }
      const raw = readFileSync(p);
      const views = [raw];
      try {
        if (p.endsWith(".gz")) views.push(gunzipSync(raw));
        else if (/[\\/]objects[\\/][0-9a-f]{2}$/.test(path.dirname(p))) views.push(inflateSync(raw));
      } catch {
        // not compressed after all: the raw bytes were searched
      }
      if (views.some((v) => v.includes(needle))) hits.push(p);
    }
  };
  walk(dir);
  for (const repo of repos) {
    // Packed objects are deltified and compressed: let git print every object it has.
    const r = await runProcess("git", ["--git-dir", repo, "cat-file", "--batch-all-objects", "--batch"], {
      cwd: dir,
      timeoutMs: 60_000,
    });
    if (r.stdout.includes(needle)) hits.push(`${repo} (git objects)`);
  }
  return hits;
}

const viewFix = (old: string, neu: string, summary: string): ScriptedReply[] => [
  { type: "tools", calls: [{ name: "view_file", args: { path: "calc.py" } }] },
  {
    type: "tools",
    calls: [{ name: "replace_in_file", args: { path: "calc.py", old_text: old, new_text: neu } }],
  },
  { type: "tools", calls: [{ name: "finish", args: { summary } }] },
];

describe("campaign with the LLM brain through the real CLI and a scripted model over HTTP", () => {
  it("a scripted fix of the failing test is promoted; report links trajectories with tokens and cost; key nowhere", async () => {
    // Like real suites, the tests write data into the work tree (binary, untracked): a gate output, not a change.
    const { sacred, root, master, fp } = await setup(
      // A price for the scripted model, so that the money is counted: $10 / $50 per million tokens.
      `  max_retries: 0\n  prices:\n    ${MODEL}:\n      input: 10\n      output: 50\n`,
      { "tests/conftest.py": WRITES_TEST_DATA },
    );
    const key = plantedKey();
    const [view, edit, finish] = viewFix("return a - b", "return a + b", "add added instead of subtracting");
    const run = await runCampaign(
      root,
      key,
      [view!, edit!, { type: "tools", calls: [{ name: "run_gates", args: { scope: "targeted" } }] }, finish!],
      ["--max-attempts", "1", "--max-cycles", "3"],
    );
    // Cycle 1 promotes the fix; cycle 2 finds every gate green: the campaign ends on its own.
    expect(run.code, run.out + run.err).toBe(0);
    expect(run.out).toContain("NO_WORK");
    expect(run.out).toContain(`LLM: openai-compatible ${MODEL} at ${server!.origin}/v1`);
    expect(run.out).toMatch(/→ promoted:/);

    // The model was really asked, with the key, about the failing test, and saw the file before editing it.
    expect(server!.requests).toHaveLength(4);
    expect(JSON.stringify(server!.requests[3]!.body.messages)).toContain("gates (targeted): PASS");
    expect(server!.requests[0]!.headers.authorization).toBe(`Bearer ${key}`);
    expect(requestText(server!.requests[0]!)).toContain("test_add");
    expect(requestText(server!.requests[1]!)).toContain("return a - b");

    // Master has the fix, in exactly one commit; Sacred is untouched.
    expect(readFileSync(path.join(master, "calc.py"), "utf8")).toContain("return a + b");
    const commits = (await git(master, ["log", "--format=%s", "sacred..HEAD"])).trim().split("\n");
    expect(commits).toEqual([
      expect.stringMatching(/cycle cycle_001: tests failure tests\/test_calc.py::test_add/),
    ]);
    expect(takeFingerprint(sacred).digest).toBe(fp);

    // Only the model's file was promoted, not the data the tests wrote.
    expect((await git(master, ["show", "--name-only", "--format=", "HEAD"])).trim()).toBe("calc.py");

    // The cycle report links the trajectory (a real file) and shows the spend: 4 requests × (100 + 20) tokens.
    const report = readFileSync(path.join(root, "reports", "cycle_001_report.md"), "utf8");
    expect(report).toContain("**promoted**");
    const links = [...report.matchAll(/\]\(([^)]*trajectories[^)]*\.jsonl)\)/g)].map((m) => m[1]!);
    expect(links).toEqual(["../trajectories/cycle_001/1.jsonl"]);
    const trajectory = jsonl(path.join(root, "reports", links[0]!));
    expect(trajectory.filter((e) => e.type === "tool_call").map((e) => e.tool)).toEqual([
      "view_file",
      "replace_in_file",
      "run_gates",
      "finish",
    ]);
    // Each request: 100 × $10 + 20 × $50 per million = $0.002.
    expect(report).toContain("- LLM: 480 tokens, $0.0080");

    const status = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
    expect(status).toMatchObject({ improvements_promoted: 1, master_changes: 1, llm: { tokens: 480 } });
    // The campaign report: what the promoted cycle spent, and the cost per promotion.
    const campaign = readFileSync(
      path.join(root, "reports", `campaign_${status.campaign_id}_report.md`),
      "utf8",
    );
    expect(campaign).toContain("- LLM: 480 tokens, $0.0080; $0.0080 per promotion");
    expect(campaign).toMatch(
      /\| \[1\]\(cycle_001_report\.md\) \| tests failure tests\/test\\_calc\.py::test\\_add.* \| 480 tokens, \$0\.0080 \|/,
    );
    expect(status.llm.cost_usd).toBeCloseTo(0.008, 10);
    // (The deterministic fixers are tried first; the LLM's lesson is the promotion.)
    const lessons = jsonl(path.join(root, "memory", "lessons.jsonl")).filter(
      (l) => l.approach.kind === "llm",
    );
    expect(lessons).toMatchObject([
      {
        outcome: "promoted",
        approach: { kind: "llm", name: `openai-compatible/${MODEL}` },
        tokens: 480,
        costUsd: expect.closeTo(0.008, 10),
      },
    ]);

    // The planted key: in no file under the root (git objects and snapshots included), not in the output.
    expect(await filesContaining(root, key)).toEqual([]);
    // (The search does see model text: the finish summary is in memory, the report and Master's commit object.)
    const seen = await filesContaining(root, "add added instead of subtracting");
    expect(seen).toEqual(expect.arrayContaining([path.join(root, "memory", "lessons.jsonl")]));
    expect(seen.some((f) => f.startsWith(path.join(master, ".git")))).toBe(true);
    expect(run.out + run.err).not.toContain(key);
  });

  it("wrong fixes are rejected by the gates and recorded; the next attempt's prompt says what failed", async () => {
    const { root, master, sacred, fp } = await setup("  max_retries: 0\n");
    // Attempt 1: `a * b` (add(2, 3) = 6). Attempt 2, told so: `b - a` (= 1). Neither makes test_add pass.
    const run = await runCampaign(
      root,
      plantedKey(),
      [
        ...viewFix("return a - b", "return a * b", "multiply instead"),
        ...viewFix("return a - b", "return b - a", "swap the operands").slice(1),
      ],
      ["--max-attempts", "2", "--max-cycles", "1"],
    );
    expect(run.code, run.out + run.err).toBe(3);
    expect(run.out).toContain("campaign ended: MAX_CYCLES_REACHED");
    expect(server!.requests).toHaveLength(5);

    // Attempt 2's first request carries what failed after attempt 1 (not the baseline's `assert -1 == 5` only).
    expect(requestText(server!.requests[0]!)).not.toContain("assert 6 == 5");
    const retry = requestText(server!.requests[3]!);
    expect(retry).toContain("Previous attempt 1 in this cycle");
    expect(retry).toContain("assert 6 == 5");

    // The lesson: rejected by the tests gate, with what failed after the last attempt.
    const lessons = jsonl(path.join(root, "memory", "lessons.jsonl")).filter(
      (l) => l.approach.kind === "llm",
    );
    expect(lessons).toMatchObject([
      {
        cycleId: "cycle_001",
        outcome: "rejected",
        gate: "tests",
        reason: expect.stringMatching(/the gates rejected attempt 2 \(changed calc\.py\): .*assert 1 == 5/s),
        tokens: 600,
      },
    ]);
    const cycle1 = readFileSync(path.join(root, "reports", "cycle_001_report.md"), "utf8");
    expect(cycle1).toContain("**rejected**");
    expect(cycle1).toContain("assert 1 == 5");
    expect(cycle1).toContain("../trajectories/cycle_001/2.jsonl");

    // Nothing reached Master or Sacred.
    expect(readFileSync(path.join(master, "calc.py"), "utf8")).toContain("return a - b");
    expect((await git(master, ["rev-list", "--count", "sacred..HEAD"])).trim()).toBe("0");
    expect(takeFingerprint(sacred).digest).toBe(fp);
    const status = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
    expect(status).toMatchObject({
      improvements_promoted: 0,
      improvements_rejected: 1,
      llm: { tokens: 600 },
    });
  });

  it("lessons of similar past tasks from memory (other signatures) reach the first prompt; the task's own do not", async () => {
    const { root } = await setup("  max_retries: 0\n");
    // An earlier campaign's lesson on a similar task (another signature): what was tried and why it failed.
    const earlier = {
      campaignId: "earlier",
      cycleId: "cycle_007",
      task: {
        kind: "failure",
        target: "tests/test_calc.py::test_sub",
        signature: "sig-similar-calc",
        title: "tests: test_calc.py::test_sub failed in calc.py",
      },
      approach: { kind: "llm", name: "openai/x", summary: "swapped the operands of sub in calc.py" },
      outcome: "rejected",
      gate: "tests",
      reason: "assert 1 == -1 after the swap",
      files: ["calc.py"],
      at: "2026-11-30T00:00:00.000Z",
    };
    writeFileSync(path.join(root, "memory", "lessons.jsonl"), `${JSON.stringify(earlier)}\n`);
    const run = await runCampaign(root, plantedKey(), viewFix("return a - b", "return a + b", "add adds"), [
      "--max-attempts",
      "1",
      "--max-cycles",
      "1",
    ]);
    expect(run.out, run.err).toContain("campaign ended: MAX_CYCLES_REACHED");
    expect(JSON.parse(readFileSync(path.join(root, "status.json"), "utf8")).improvements_promoted).toBe(1);
    const first = requestText(server!.requests[0]!);
    expect(first).toContain("Lessons from similar past tasks");
    expect(first).toContain("swapped the operands of sub in calc.py");
    expect(first).toContain("assert 1 == -1 after the swap");
    expect(first).toContain("ended rejected by tests");
  });

  it("a model that answers 500 after every retry: each cycle is recorded as an LLM error, the campaign ends cleanly", async () => {
    const { root, master, fp, sacred } = await setup("  max_retries: 1\n");
    const key = plantedKey();
    const run = await runCampaign(
      root,
      key,
      () => ({ type: "error", status: 500, message: "scripted outage" }),
      ["--max-attempts", "2", "--max-cycles", "2"],
    );
    expect(run.err).not.toMatch(/error:/);
    expect(run.out).toContain("campaign ended: MAX_CYCLES_REACHED");
    expect(run.code).toBe(3);
    const lessons = jsonl(path.join(root, "memory", "lessons.jsonl")).filter(
      (l) => l.approach.kind === "llm",
    );
    // Cycle 2 tries the model again unless memory already avoids the signature (two failed approaches).
    expect(lessons.length).toBeGreaterThanOrEqual(1);
    for (const l of lessons)
      expect(l).toMatchObject({
        outcome: "error",
        reason: expect.stringMatching(/^LLM error: .*scripted outage/),
      });
    // One request + one retry per cycle: an LLM error ends the cycle's attempts at once (attempt 2 is not started).
    expect(server!.requests).toHaveLength(2 * lessons.length);
    const cycle1 = readFileSync(path.join(root, "reports", "cycle_001_report.md"), "utf8");
    expect(cycle1).toMatch(/LLM error: .*scripted outage/);
    const status = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
    expect(status).toMatchObject({ status: "completed", improvements_promoted: 0, master_changes: 0 });
    expect((await git(master, ["rev-list", "--count", "sacred..HEAD"])).trim()).toBe("0");
    expect(takeFingerprint(sacred).digest).toBe(fp);
    expect(await filesContaining(root, key)).toEqual([]);
    expect(run.out + run.err).not.toContain(key);
  });

  it("a green repository: the coverage gap is the task (measured once, jailed), status.json has the coverage", async () => {
    const { root } = await setup("  max_retries: 0\n", {
      "calc.py": "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n",
      "pkg/__init__.py": "",
      "pkg/clamp.py":
        "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n",
      "tests/test_clamp.py":
        "from pkg.clamp import clamp\n\n\ndef test_inside():\n    assert clamp(2, 1, 3) == 2\n",
    });
    const run = await runCampaign(root, plantedKey(), () => ({ type: "error", status: 500, message: "no" }), [
      "--max-cycles",
      "1",
    ]);
    expect(run.out + run.err).toMatch(
      /coverage: 60% of the package \(tests only; harnesses not measured\); 1 gap/,
    );
    const cycle1 = readFileSync(path.join(root, "reports", "cycle_001_report.md"), "utf8");
    expect(cycle1).toContain("Kind: coverage; target: pkg/clamp.py; signature: coverage:module:pkg/clamp.py");
    expect(cycle1).toContain("Lines no test or harness runs: 3, 5.");
    const status = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
    expect(status.coverage).toMatchObject({ lines: { covered: 4, total: 6 }, tasks: 1 });
    const events = jsonl(path.join(root, "events.jsonl")).filter((e) => e.type === "coverage");
    expect(events).toHaveLength(1);
  });

  it("a stop while the model is thinking: the attempt is neither gated nor learned from, the cycle is cut", async () => {
    const { root, master } = await setup("  max_retries: 0\n");
    const running = runCampaign(
      root,
      plantedKey(),
      () => ({ type: "slow", ms: 30_000, reply: { type: "text", text: "too late" } }),
      ["--max-attempts", "1", "--max-cycles", "3"],
    );
    while (!server?.requests.length) await new Promise((r) => setTimeout(r, 100));
    expect((await cli(["--root", root, "stop"])).out).toMatch(/stop requested/);
    const run = await running;
    expect(run.code).toBe(3);
    expect(run.out).toContain("campaign ended: STOPPED");
    expect(server!.requests).toHaveLength(1);
    // The ruff fixer ran before the model (and changed nothing). The model's attempt: no lesson ("made no change"
    // would be a false one), no candidate, no gate run after the baseline.
    const llmLessons = (ls: ReturnType<typeof jsonl>) => ls.filter((l) => l.approach.kind === "llm");
    expect(llmLessons(jsonl(path.join(root, "memory", "lessons.jsonl")))).toEqual([]);
    const events = jsonl(path.join(root, "events.jsonl"));
    expect(llmLessons(events.filter((e) => e.type === "lesson").map((e) => e.lesson))).toEqual([]);
    const gateRuns = events.filter((e) => e.type === "gate_run");
    // No candidate was gated; Master's final check after the stop ran nothing (only the gate cache is read).
    expect(gateRuns.map((e) => e.label).filter((l) => l !== "final")).toEqual(["before"]);
    for (const f of gateRuns.filter((e) => e.label === "final"))
      expect(f.gates.every((g: { cached?: boolean }) => g.cached === true)).toBe(true);
    const attempts = events.filter((e) => e.step === "attempt_done").map((e) => e.data.approach);
    expect(attempts).toEqual([expect.stringMatching(/^fixer:/)]);
    expect(events.filter((e) => e.type === "step").at(-1)).toMatchObject({
      step: "cycle_end",
      data: { interrupted: "STOPPED" },
    });
    expect(JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"))).toMatchObject({
      status: "stopped",
      cycles_completed: 0,
    });
    expect((await git(master, ["rev-list", "--count", "sacred..HEAD"])).trim()).toBe("0");
  });

  it("a model answering only in prose: 2 requests per attempt, the reason in the trajectory and the cycle report", async () => {
    const { root } = await setup("  max_retries: 0\n");
    const run = await runCampaign(
      root,
      plantedKey(),
      () => ({ type: "text", text: "I believe add subtracts." }),
      ["--max-attempts", "2", "--max-cycles", "1"],
    );
    expect(run.code, run.err).toBe(3);
    // not max_steps (30) per attempt: the second answer without a tool call ends it
    expect(server!.requests).toHaveLength(4);
    const end = jsonl(path.join(root, "trajectories", "cycle_001", "1.jsonl")).at(-1);
    expect(end).toMatchObject({
      type: "attempt_end",
      stopReason: "no_tool_call",
      summary: "I believe add subtracts.\n\nI believe add subtracts.",
    });
    const cycle1 = readFileSync(path.join(root, "reports", "cycle_001_report.md"), "utf8");
    expect(cycle1).toContain('attempts ended by no_tool_call ("I believe add subtracts.');
  });

  it("the token budget (llm.max_tokens) runs out: the campaign stops with BUDGET_EXHAUSTED; --resume goes on from what it spent", async () => {
    // Two failing tests: two tasks, so that a resumed campaign has work left after the first one is given up.
    const { root, master } = await setup(
      `  max_tokens: 300\n  max_retries: 0\n  prices:\n    ${MODEL}:\n      input: 10\n      output: 50\n`,
      { "tests/test_zero.py": "from calc import add\n\n\ndef test_add_zero():\n    assert add(0, 4) == 4\n" },
    );
    const key = plantedKey();
    const flags = ["--max-attempts", "3", "--max-cycles", "5"];
    // Each reply costs 120 tokens ($0.002): after 3 requests (360 ≥ 300) no further request is made.
    const run = await runCampaign(
      root,
      key,
      () => ({ type: "tools", calls: [{ name: "view_file", args: { path: "calc.py" } }] }),
      flags,
    );
    expect(run.code, run.err).toBe(3);
    expect(run.out).toContain("campaign ended: BUDGET_EXHAUSTED");
    expect(server!.requests).toHaveLength(3);
    const status = () => JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
    const first = status();
    expect(first).toMatchObject({
      status: "completed",
      stop_reason: "BUDGET_EXHAUSTED",
      cycles_completed: 1,
      llm: { tokens: 360 },
    });
    expect(first.llm.cost_usd).toBeCloseTo(0.006, 10);
    expect((await git(master, ["rev-list", "--count", "sacred..HEAD"])).trim()).toBe("0");

    // Resumed with the same budget: the same campaign, already over its budget, stops before any request.
    const again = await runWithLlm(root, server!.origin, MODEL, key, [...flags, "--resume"]);
    expect(again.code, again.err).toBe(3);
    expect(again.out).toContain("campaign ended: BUDGET_EXHAUSTED");
    expect(server!.requests).toHaveLength(3);
    const second = status();
    expect(second).toMatchObject({
      campaign_id: first.campaign_id,
      stop_reason: "BUDGET_EXHAUSTED",
      cycles_completed: 1,
      llm: { tokens: 360 },
    });
    expect(second.llm.cost_usd).toBeCloseTo(0.006, 10);
    const report = readFileSync(
      path.join(root, "reports", `campaign_${first.campaign_id}_report.md`),
      "utf8",
    );
    expect(report).toContain("- Status: **completed** (BUDGET\\_EXHAUSTED)");
    expect(report).toContain("- LLM: 360 tokens, $0.0060; no promotion");

    // A larger budget: the brain goes on from the campaign's 360 tokens, so one more request reaches 420.
    const cfg = path.join(root, "config.yaml");
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("max_tokens: 300", "max_tokens: 420"));
    const more = await runWithLlm(root, server!.origin, MODEL, key, [...flags, "--resume"]);
    expect(more.code, more.err).toBe(3);
    expect(more.out).toContain("campaign ended: BUDGET_EXHAUSTED");
    expect(server!.requests).toHaveLength(4);
    const third = status();
    expect(third).toMatchObject({
      campaign_id: first.campaign_id,
      stop_reason: "BUDGET_EXHAUSTED",
      cycles_completed: 2,
      llm: { tokens: 480 },
    });
    expect(third.llm.cost_usd).toBeCloseTo(0.008, 10);
  });
});

describe("no jail, no model code", () => {
  it("isolation auto without bubblewrap: an LLM campaign refuses before writing anything; --no-llm runs, warned", async () => {
    const { root, master, sacred, fp } = await setup("  max_retries: 0\n");
    // A PATH on which bubblewrap does not exist (git only): the probe finds no jail.
    const bin = path.join(tempDir(), "bin");
    mkdirSync(bin);
    symlinkSync(
      (await runProcess("sh", ["-c", "command -v git"], { cwd: bin })).stdout.trim(),
      path.join(bin, "git"),
    );
    const head = await git(master, ["rev-parse", "HEAD"]);
    const before = readdirSync(root).sort();

    server = await startLlmServer(() => ({ type: "text", text: "never asked" }));
    const refused = await runWithLlm(root, server.origin, MODEL, plantedKey(), [], { PATH: bin });
    expect(refused.code).toBe(4);
    expect(refused.err).toContain("refusing to run an LLM's code without a jail: bwrap is not installed");
    expect(refused.err).toMatch(/apt-get install bubblewrap.*--no-llm.*isolation: none/s);
    expect(server.requests).toHaveLength(0);
    expect(readdirSync(root).sort()).toEqual(before); // no status, journal, campaign record or sandbox
    expect(await git(master, ["rev-parse", "HEAD"])).toBe(head);

    // The same machine, deterministic fixers only: it runs, and says plainly that nothing is jailed.
    const plain = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "1"], { PATH: bin });
    expect(plain.code, plain.err).toBe(3); // MAX_CYCLES_REACHED
    expect(plain.out).toContain("isolation: none");
    const status = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
    expect(status.isolation_warning).toMatch(/^isolation: none .*bwrap is not installed/);
    expect(takeFingerprint(sacred).digest).toBe(fp);
  });
});
