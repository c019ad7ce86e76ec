import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { JAIL_HOME, JAIL_UID, probeIsolation } from "../src/exec/jail.js";
import { cli, runWithLlm } from "./campaign-cli.js";
import { makeGitRepo, resultJson, tempDir } from "./helpers.js";
import { startLlmServer } from "./llm-server.js";

/**
 * Issue 10, items 5 and 9 through the real CLI: what jailed code can see of the run (environment, uid), the
 * `gates` command in the same jail as a campaign, and the isolation as part of the gate cache key.
 */

const probe = await probeIsolation();
const CI = process.env.CI === "true";

/** A planted secret in the run's environment (the name looks secret: *_TOKEN). */
const SECRET_NAME = "OI_PLANTED_DEPLOY_TOKEN";
const SECRET = "tok-planted-9f3c1e7a5b";

/**
 * A test that fails with what its process can see: uid, HOME, the planted variable, whether any /proc environ shows
 * it, and the value dug out of there (the odibi-improve process is visible when the tests run unjailed).
 */
const WITNESS_TEST = `import glob
import os


def test_witness():
    dug = None
    for f in glob.glob("/proc/*/environ"):
        try:
            with open(f, "rb") as fh:
                entries = fh.read().decode("utf8", "replace").split("\\0")
        except OSError:
            continue
        for kv in entries:
            if kv.startswith("${SECRET_NAME}="):
                dug = kv.split("=", 1)[1]
    env = os.environ.get("${SECRET_NAME}")
    assert False, f"uid={os.getuid()} home={os.environ.get('HOME')} env={env} proc={dug is not None} dug={dug}"
`;

const witnessOf = (json: string): string => {
  const m = /uid=\d+ home=\S+ env=\S+ proc=\w+/.exec(json);
  return m ? m[0] : `no witness in ${json.slice(0, 2000)}`;
};

describe("the gates command runs jailed, and the isolation is part of the cache key", () => {
  it.runIf(probe.available || CI)("a result computed unjailed is not served to a jailed check", async () => {
    expect(probe.available, probe.reason).toBe(true);
    const sacred = await makeGitRepo(path.join(tempDir(), "witness"), {
      "calc.py": "def add(a, b):\n    return a + b\n",
      "tests/test_witness.py": WITNESS_TEST,
      "pytest.ini": "[pytest]\npythonpath = .\n",
    });
    const root = path.join(tempDir(), "root");
    expect((await cli(["init", "--source", sacred, "--root", root, "--profile", "python"])).code).toBe(0);
    const cfg = path.join(root, "config.yaml");
    const gates = () => cli(["--root", root, "--json", "gates", "--master"], { [SECRET_NAME]: SECRET });

    // The suite runs serially throughout: the test plan is part of the key too, and deciding on xdist after the
    // first run would make the third a miss for a reason other than the isolation.
    writeFileSync(
      cfg,
      readFileSync(cfg, "utf8").replace("    - tests\n", "    - tests\n  parallel_tests: off\n"),
    );
    appendFileSync(cfg, "isolation: none\n");
    const unjailed = await gates();
    expect(unjailed.err).toContain("isolation: none");
    expect(witnessOf(unjailed.out)).toBe(
      `uid=${process.getuid?.()} home=${process.env.HOME} env=None proc=True`,
    );

    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("isolation: none\n", "isolation: bwrap\n"));
    const jailed = await gates();
    expect(jailed.err).toBe("");
    const result = resultJson(jailed.out).result as { runs: Array<{ gate: string; cached?: boolean }> };
    expect(result.runs.find((r) => r.gate === "tests")?.cached).toBeUndefined();
    expect(witnessOf(jailed.out)).toBe(`uid=${JAIL_UID} home=${JAIL_HOME} env=None proc=False`);

    // The same isolation again: now from the cache.
    const again = resultJson((await gates()).out).result as typeof result;
    expect(again.runs.find((r) => r.gate === "tests")?.cached).toBe(true);
  });
});

/** Every file under `dir` (symlinks not followed) with its bytes as latin1 text, so nothing can hide a match. */
function filesUnder(dir: string): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath, e.name);
    out.push({ file, text: readFileSync(file).toString("latin1") });
  }
  return out;
}

describe("no secret of the run's environment reaches the model or a file under the root", () => {
  it.runIf(probe.available || CI).each(["bwrap", "none"] as const)(
    "a real campaign (isolation %s): what tests, the model or the tool write is redacted",
    async (isolation) => {
      expect(probe.available, probe.reason).toBe(true);
      const sacred = await makeGitRepo(path.join(tempDir(), "witness"), {
        "calc.py": "def add(a, b):\n    return a + b\n",
        "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
        "tests/test_witness.py": WITNESS_TEST,
        "pytest.ini": "[pytest]\npythonpath = .\n",
      });
      const root = path.join(tempDir(), "root");
      expect((await cli(["init", "--source", sacred, "--root", root, "--profile", "python"])).code).toBe(0);
      appendFileSync(path.join(root, "config.yaml"), `isolation: ${isolation}\n`);
      const key = "sk-secrets-jail-campaign-key";
      // The scripted model repeats the secret in its words and its summary: the next request and every writer
      // must redact it.
      const server = await startLlmServer([
        {
          type: "tools",
          text: `I will use ${SECRET} to deploy.`,
          calls: [
            { name: "replace_in_file", args: { path: "calc.py", old_text: "a + b", new_text: "b + a" } },
          ],
        },
        { type: "tools", calls: [{ name: "finish", args: { summary: `done, token ${SECRET}` } }] },
      ]);
      let run: Awaited<ReturnType<typeof cli>>;
      try {
        run = await runWithLlm(
          root,
          server.origin,
          "secrets-model",
          key,
          ["--max-attempts", "1", "--max-cycles", "1"],
          { [SECRET_NAME]: SECRET },
        );
      } finally {
        await server.close();
      }
      expect(server.requests, run.out + run.err).toHaveLength(2);
      const bodies = server.requests.map((r) => JSON.stringify(r.body));
      // The witness test's failure is in the first prompt.
      if (isolation === "bwrap") {
        // Jailed, the tests saw nothing of the run's environment, by no route.
        expect(witnessOf(bodies[0]!)).toBe(`uid=${JAIL_UID} home=${JAIL_HOME} env=None proc=False`);
        expect(bodies[0]).toContain("dug=None");
      } else {
        // Unjailed, the secret variables are not passed on, but the test dug the value out of the tool's own
        // /proc/<pid>/environ and printed it: redacted before it reached the model.
        expect(witnessOf(bodies[0]!)).toMatch(/ env=None proc=True$/);
        expect(bodies[0]).toContain(`dug=[REDACTED:${SECRET_NAME}]`);
      }
      // The model's own words came back to it redacted.
      expect(bodies[1]).toContain(`[REDACTED:${SECRET_NAME}]`);
      for (const b of bodies) {
        expect(b).not.toContain(SECRET);
        expect(b).not.toContain(key);
      }
      expect(run.out + run.err).not.toContain(SECRET);

      const files = filesUnder(root).map((f) => ({ ...f, rel: path.relative(root, f.file) }));
      const leaks = files.filter((f) => f.text.includes(SECRET) || f.text.includes(key)).map((f) => f.rel);
      // Unjailed, pytest itself writes the JUnit XML of the gates (under stories/): a file the candidate's own
      // process wrote, as it could write any other (docs/safety.md). Everything the tool writes is redacted.
      const candidateWritten = (rel: string) => isolation === "none" && /^stories\/.*\.xml$/.test(rel);
      expect(leaks.filter((f) => !candidateWritten(f))).toEqual([]);
      // The routes were exercised: the redacted secret is in the trajectory and, unjailed, in memory and reports.
      const redacted = files.filter((f) => f.text.includes(`[REDACTED:${SECRET_NAME}]`)).map((f) => f.rel);
      const wrote = (dir: string) => redacted.some((f) => f.startsWith(dir));
      expect(wrote("trajectories"), redacted.join(", ")).toBe(true);
      if (isolation === "none")
        for (const dir of ["memory", "reports", "events.jsonl", ".odibi-improve/gate-cache"])
          expect(wrote(dir), `${dir}: ${redacted.join(", ")}`).toBe(true);
    },
  );
});
