import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { probeIsolation } from "../src/exec/jail.js";
import { CORPUS, injectDefect, runCorpusDefect } from "./brain-corpus.js";
import { itWhen } from "./ci-required.js";
import { CLI, tempDir } from "./helpers.js";

/**
 * Issue 12's acceptance in CI: two defects of the corpus (one caught by odibi's pytest suite, one only by the golden
 * projects), each a full jailed campaign through the real CLI against the scripted model, which acts only on what
 * the brain's conversation shows. `npm run bench -- brain` runs all of them.
 */

/** A fix takes at most: views of the named locations (3), the edit, finish. */
const MAX_CALLS = 5;

describe("the brain corpus", async () => {
  it("every defect is one location in the pinned odibi: its original text occurs once, its defect once", () => {
    const kinds = CORPUS.map((d) => d.kind);
    expect(kinds.filter((k) => k === "pytest").length).toBeGreaterThanOrEqual(5);
    expect(kinds.filter((k) => k === "golden").length).toBeGreaterThanOrEqual(5);
    for (const d of CORPUS) {
      const source = readFileSync(path.join(inject("odibiSource"), ...d.file.split("/")), "utf8");
      expect(injectDefect(source, d)).not.toBe(source);
    }
  });

  const probe = await probeIsolation();
  const withJail = itWhen(
    probe.available,
    `the bubblewrap jail does not work here (${probe.reason}): apt-get install bubblewrap`,
  );
  for (const id of ["add-prefix-order", "scd2-start-column"]) {
    const d = CORPUS.find((x) => x.id === id)!;
    withJail(
      `${d.kind} defect ${id}: Master fails exactly the expected checks; fixed and promoted in cycle 1`,
      async () => {
        const r = await runCorpusDefect(d, {
          venv: inject("venv"),
          odibiSource: inject("odibiSource"),
          cli: CLI,
          workDir: tempDir(),
        });
        expect(r.baselineFails).toEqual([...d.fails].sort());
        expect(r, JSON.stringify(r)).toMatchObject({ fixed: true, promotedCycle: 1 });
        expect(r.calls).toBeLessThanOrEqual(MAX_CALLS);
      },
      600_000,
    );
  }
});
