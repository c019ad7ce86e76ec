import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { JAIL_HOME, JAIL_UID, probeIsolation } from "../src/exec/jail.js";
import { cli } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * Issue 10, items 5 and 9 through the real CLI: what jailed code can see of the run (environment, uid), the
 * `gates` command in the same jail as a campaign, and the isolation as part of the gate cache key.
 */

const probe = await probeIsolation();
const CI = process.env.CI === "true";

/** A planted secret in the run's environment (the name looks secret: *_TOKEN). */
const SECRET_NAME = "OI_PLANTED_DEPLOY_TOKEN";
const SECRET = "tok-planted-9f3c1e7a5b";

/** A test that fails with what its process can see: uid, HOME, the planted variable, and every /proc environ. */
const WITNESS_TEST = `import glob
import os


def test_witness():
    seen = []
    for f in glob.glob("/proc/*/environ"):
        try:
            with open(f, "rb") as fh:
                seen.append(fh.read().decode("utf8", "replace"))
        except OSError:
            pass
    leaked = any("${SECRET_NAME}" in s for s in seen)
    assert False, f"uid={os.getuid()} home={os.environ.get('HOME')} env={os.environ.get('${SECRET_NAME}')} proc={leaked}"
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

    appendFileSync(cfg, "isolation: none\n");
    const unjailed = await gates();
    expect(unjailed.err).toContain("isolation: none");
    expect(witnessOf(unjailed.out)).toBe(
      `uid=${process.getuid?.()} home=${process.env.HOME} env=None proc=True`,
    );

    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("isolation: none\n", "isolation: bwrap\n"));
    const jailed = await gates();
    expect(jailed.err).toBe("");
    const result = JSON.parse(jailed.out).result as { runs: Array<{ gate: string; cached?: boolean }> };
    expect(result.runs.find((r) => r.gate === "tests")?.cached).toBeUndefined();
    expect(witnessOf(jailed.out)).toBe(`uid=${JAIL_UID} home=${JAIL_HOME} env=None proc=False`);

    // The same isolation again: now from the cache.
    const again = JSON.parse((await gates()).out).result as typeof result;
    expect(again.runs.find((r) => r.gate === "tests")?.cached).toBe(true);
  });
});
