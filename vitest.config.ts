import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Tests spawn real git, pytest, ruff and odibi: two cores, so keep parallelism modest.
    maxWorkers: 2,
    globalSetup: ["tests/global-setup.ts"],
    reporters: ["default", "json"],
    outputFile: { json: ".test-results/vitest.json" },
  },
});
