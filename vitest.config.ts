import { BaseSequencer, type TestSpecification } from "vitest/node";
import { defineConfig } from "vitest/config";

/**
 * The files that take minutes start first. Without vitest's duration cache (a clean checkout, as in CI) it orders
 * by file size, and brain-corpus.test.ts (small file, ~8 min of campaigns) started last and ran alone at the end.
 */
const SLOW_FIRST = [
  "brain-corpus.test.ts",
  "hostile-campaign.test.ts",
  "campaign-e2e.test.ts",
  "campaign-stop.test.ts",
  "hostile-escape.test.ts",
];

class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((name) => f.moduleId.endsWith(`/${name}`));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Tests spawn real git, pytest, ruff and odibi: two cores, so keep parallelism modest.
    maxWorkers: 2,
    sequence: { sequencer: SlowFirst },
    globalSetup: ["tests/global-setup.ts"],
    reporters: ["default", "json"],
    outputFile: { json: ".test-results/vitest.json" },
  },
});
