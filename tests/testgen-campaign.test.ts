import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { git } from "../src/environment/git.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { cli, jsonl, runWithLlm } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";
import { type RecordedRequest, requestText, type ScriptedReply, startLlmServer } from "./llm-server.js";

/**
 * Issue 13 item 6, "tests that earn their place", end to end: the real CLI runs a campaign (python profile, gates
 * and filters jailed, real pytest and coverage.py in the gates' venv) on a small repository whose two modules are
 * under-tested, so that its only work is coverage gaps (test-adding tasks, least covered first). A scripted model
 * over HTTP writes, one cycle each: (1) a test that asserts nothing, (2) a flaky test, (3) a test that does not
 * touch its target, (4) a good test. Only (4) is promoted; each other one is rejected naming its filter (mutants,
 * reruns, coverage) in the lesson, the cycle report and the event log. Two failures avoid a target, so cycles 1–2
 * work on the least covered module and 3–4 on the next; in cycle 5, on the third module, the model changes an
 * existing test instead: the policy rejects it (tests-only) before any filter runs; in cycle 6 its new test fails
 * on Master's code (filter passes, seen by the model's own gate run already).
 */

const LIMITS = `def clamp(value, low, high):
    """value limited to [low, high]; None stays None."""
    if value is None:
        return None
    if value < low:
        return low
    if value > high:
        return high
    return value
`;

const SCALE = `def scale(values, factor):
    """Each value times factor; a negative value counts as 0, no values give an empty list."""
    if values is None:
        return []
    out = []
    for v in values:
        if v < 0:
            out.append(0)
        else:
            out.append(v * factor)
    return out
`;

const NAMES = `def initials(name):
    if not name:
        return ""
    parts = name.split()
    letters = [p[0].upper() for p in parts]
    joined = "".join(letters)
    return joined
`;

const REPO: Record<string, string> = {
  "pkg/names.py": NAMES,
  "tests/test_names.py":
    'from pkg.names import initials\n\n\ndef test_two_words():\n    assert initials("ada lovelace") == "AL"\n',
  "pkg/__init__.py": "",
  "pkg/limits.py": LIMITS,
  "pkg/scale.py": SCALE,
  "tests/test_limits.py":
    "from pkg.limits import clamp\n\n\ndef test_inside():\n    assert clamp(5, 0, 10) == 5\n",
  "tests/test_scale.py":
    "from pkg.scale import scale\n\n\ndef test_doubles():\n    assert scale([1, 2], 2) == [2, 4]\n",
  "pytest.ini": "[pytest]\npythonpath = .\n",
  "pyproject.toml": '[project]\nname = "pkg"\nversion = "0.1.0"\n',
};

type Kind = "idle" | "flaky" | "off" | "good" | "modify" | "wrong";

/** A flaky test: it keeps a run count next to itself and fails from its fourth run on. */
const flaky = (imp: string, call: string, want: string) =>
  `import pathlib\n\n${imp}\n\nRUNS = pathlib.Path(__file__).with_name(".runs")\n\n\ndef test_flaky():\n    n = int(RUNS.read_text()) if RUNS.exists() else 0\n    RUNS.write_text(str(n + 1))\n    assert ${call} == (${want} if n < 3 else None)\n`;

const TESTS: Record<string, Partial<Record<Kind, string>>> = {
  "pkg/limits.py": {
    idle: "from pkg.limits import clamp\n\n\ndef test_calls_clamp():\n    clamp(-5, 0, 10)\n    clamp(15, 0, 10)\n",
    flaky: flaky("from pkg.limits import clamp", "clamp(15, 0, 10)", "10"),
    off: "from pkg.scale import scale\n\n\ndef test_scale_one():\n    assert scale([3], 1) == [3]\n",
    good: "from pkg.limits import clamp\n\n\ndef test_outside_and_none():\n    assert clamp(-5, 0, 10) == 0\n    assert clamp(15, 0, 10) == 10\n    assert clamp(None, 0, 10) is None\n",
  },
  "pkg/scale.py": {
    idle: "from pkg.scale import scale\n\n\ndef test_calls_scale():\n    scale([-1, 3], 2)\n    scale(None, 2)\n",
    flaky: flaky("from pkg.scale import scale", "scale(None, 2)", "[]"),
    off: "from pkg.limits import clamp\n\n\ndef test_clamp_inside():\n    assert clamp(7, 0, 10) == 7\n",
    good: "from pkg.scale import scale\n\n\ndef test_negative_and_none():\n    assert scale([-1, 3], 2) == [0, 6]\n    assert scale(None, 2) == []\n",
  },
  "pkg/names.py": {
    wrong: "from pkg.names import initials\n\n\ndef test_empty():\n    assert initials('') == '?'\n",
  },
};

const ORDER: Kind[] = ["idle", "flaky", "off", "good", "modify", "wrong"];

/** The first request of a conversation has no assistant or tool message yet. */
const opens = (r: RecordedRequest) =>
  !(r.body?.messages ?? []).some((m: { role: string }) => m.role !== "system" && m.role !== "user");

it("of four candidate tests only the good one is promoted; each rejection names its filter", async () => {
  const base = tempDir();
  const sacred = await makeGitRepo(path.join(base, "repo"), REPO);
  const fp = takeFingerprint(sacred).digest;
  const root = path.join(base, "improve");
  const init = await cli(["init", "--source", sacred, "--root", root, "--profile", "python"]);
  expect(init.code, init.err).toBe(0);
  const cfg = path.join(root, "config.yaml");
  writeFileSync(cfg, readFileSync(cfg, "utf8").replace("gates:\n", "gates:\n  flake_reruns: 0\n"));
  const master = path.join(root, "master");
  const head = (await git(master, ["rev-parse", "HEAD"])).trim();

  const written: { kind: Kind; target: string; file: string }[] = [];
  const server = await startLlmServer((req, index): ScriptedReply => {
    if (!opens(req)) return { type: "tools", calls: [{ name: "finish", args: { summary: "added a test" } }] };
    const kind = ORDER[written.length] ?? "good";
    const target = /Target: (pkg\/\w+\.py)/.exec(requestText(req))?.[1] ?? "?";
    const stem = path.posix.basename(target, ".py");
    if (kind === "modify") {
      const file = `tests/test_${stem}.py`;
      written.push({ kind, target, file });
      const edit = {
        path: file,
        old_text: "def test_",
        new_text: "def test_empty():\n    assert initials('') == ''\n\n\ndef test_",
      };
      return { type: "tools", calls: [{ name: "replace_in_file", args: edit }] };
    }
    const file = `tests/test_${stem}_${kind}.py`;
    written.push({ kind, target, file });
    const content = TESTS[target]?.[kind] ?? `# no script for ${target} (request ${index})\n`;
    return { type: "tools", calls: [{ name: "create_file", args: { path: file, content } }] };
  });
  let run: Awaited<ReturnType<typeof cli>>;
  try {
    run = await runWithLlm(root, server.origin, "testgen-model", "sk-testgen", [
      "--max-attempts",
      "1",
      "--max-cycles",
      "6",
    ]);
  } finally {
    await server.close();
  }
  const out = run.out + run.err;
  expect(
    written.map((w) => w.kind),
    out,
  ).toEqual(ORDER);
  // Least covered first: clamp (5 of 8 lines) before scale; two failures avoid a target.
  expect(written.map((w) => w.target)).toEqual([
    "pkg/limits.py",
    "pkg/limits.py",
    "pkg/scale.py",
    "pkg/scale.py",
    "pkg/names.py",
    "pkg/names.py",
  ]);

  // The prompt of a test-adding task: the target with its unexecuted lines marked, an example test, add-only.
  const first = requestText(server.requests[0]!);
  expect(first).toContain("Only ADD new test files");
  expect(first).toContain("Lines no test or harness runs: 4, 6, 8");
  expect(first).toMatch(/!\s+4 {2}\s*return None/);
  expect(first).toContain("An existing test (tests/test_limits.py)");

  const lessons = jsonl(path.join(root, "memory", "lessons.jsonl")).filter((l) => l.approach.kind === "llm");
  expect(lessons.map((l) => [l.outcome, l.gate ?? null])).toEqual([
    ["rejected", "test-filter:mutants"],
    ["rejected", "test-filter:reruns"],
    ["rejected", "test-filter:coverage"],
    ["promoted", null],
    ["rejected", "policy"],
    ["rejected", "test-filter:passes"],
  ]);
  expect(lessons[0]!.reason).toMatch(
    /^test filter mutants: tests\/test_limits_idle\.py passes on all \d+ mutants of pkg\/limits\.py .*: it asserts nothing that matters$/,
  );
  expect(lessons[1]!.reason).toMatch(
    /^test filter reruns: tests\/test_limits_flaky\.py is flaky: it failed in re-run 3 of 5: FAILED /,
  );
  expect(lessons[2]!.reason).toMatch(
    /^test filter coverage: tests\/test_scale_off\.py does not raise the line or branch coverage of pkg\/scale\.py \(7\/9 lines, 4\/6 branches with and without it; it does not execute the target at all\)$/,
  );
  expect(lessons[3]!.reason).toMatch(
    /^adds tests\/test_scale_good\.py: coverage of pkg\/scale\.py: lines 7\/9 → 9\/9 \(\+2\), branches 4\/6 → 6\/6 \(\+2\), fails on [1-9]\d* of \d+ mutants; /,
  );

  expect(lessons[4]!.reason).toContain(
    "[tests-only] a test-adding task may only add new test files; this existing file was modified",
  );
  // The brain's own gate run already sees the new test fail on Master's code: the rejection names the filter.
  expect(lessons[5]!.reason).toMatch(
    /^test filter passes: tests\/test_names_wrong\.py fails on Master's code: the gates rejected attempt 1 \(changed tests\/test_names_wrong\.py\): tests tests\/test_names_wrong\.py::test_empty/,
  );

  // Each cycle's report and the event log say the same.
  for (const [cycle, filter] of [
    [1, "mutants"],
    [2, "reruns"],
    [3, "coverage"],
    [6, "passes"],
  ] as const) {
    const report = readFileSync(path.join(root, "reports", `cycle_00${cycle}_report.md`), "utf8");
    expect(report).toContain(`**rejected** — test filter ${filter}:`);
  }
  const cycle1 = readFileSync(path.join(root, "reports", "cycle_001_report.md"), "utf8");
  const cycle4 = readFileSync(path.join(root, "reports", "cycle_004_report.md"), "utf8");
  expect(cycle4).toContain(
    "- Target: pkg/scale.py; coverage: lines 7/9 (77.8%) → 9/9 (100.0%), +2; branches 4/6 → 6/6, +2",
  );
  expect(cycle4).not.toContain("Files unrelated to the task");
  expect(cycle1).toContain("## Tests added");
  expect(cycle1).toMatch(/\| dropped-null-check \| 3 \| .* \| no \|/);
  const decided = jsonl(path.join(root, "events.jsonl")).filter(
    (e) => e.type === "step" && e.step === "decided",
  );
  expect(decided.map((e) => String(e.data.reason).split(":")[0])).toEqual([
    "test filter mutants",
    "test filter reruns",
    "test filter coverage",
    "adds tests/test_scale_good.py",
  ]);

  // Master got the good test and nothing else, in one commit; Sacred is untouched.
  expect((await git(master, ["log", "--format=%s", `${head}..HEAD`])).trim().split("\n")).toHaveLength(1);
  expect((await git(master, ["show", "--name-only", "--format=", "HEAD"])).trim()).toBe(
    "tests/test_scale_good.py",
  );
  expect(takeFingerprint(sacred).digest).toBe(fp);

  // The campaign report: tests added and the coverage they gained.
  const status = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
  expect(status).toMatchObject({ improvements_promoted: 1, improvements_rejected: 5 });
  const campaign = readFileSync(
    path.join(root, "reports", `campaign_${status.campaign_id}_report.md`),
    "utf8",
  );
  expect(campaign).toMatch(
    /## Tests added\n\n\| cycle \| tests \| target \| coverage \| mutants \|\n.*\n\| \[4\]\(cycle_004_report\.md\) \| tests\/test\\_scale\\_good\.py \| pkg\/scale\.py \| lines 7\/9 \(77\.8%\) → 9\/9 \(100\.0%\), \+2; branches 4\/6 → 6\/6, \+2 \| \d+\/\d+ killed \|/,
  );
}, 600_000);
