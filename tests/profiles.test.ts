import { describe, expect, it } from "vitest";
import { resolveCommands } from "../src/gates/context.js";
import { detectProfile, nodeTestCommand, profileOf } from "../src/profiles/index.js";
import { tempDir, writeFiles } from "./helpers.js";

function repoWith(files: Record<string, string>): string {
  const dir = tempDir();
  writeFiles(dir, files);
  return dir;
}
const node = (scripts: Record<string, string>) =>
  repoWith({ "package.json": JSON.stringify({ name: "x", scripts }) });

describe("profiles", () => {
  it("detects a repository's kind from its files", () => {
    expect(detectProfile(repoWith({ "pyproject.toml": '[project]\nname = "odibi"\n' })).name).toBe("odibi");
    expect(detectProfile(repoWith({ "pyproject.toml": '[project]\nname = "other"\n' })).name).toBe("python");
    expect(detectProfile(repoWith({ "requirements.txt": "" })).name).toBe("python");
    expect(detectProfile(repoWith({ "package.json": "{}" })).name).toBe("node");
    expect(detectProfile(repoWith({ "go.mod": "module x\n" })).name).toBe("go");
    expect(detectProfile(repoWith({ "Cargo.toml": "" })).name).toBe("rust");
    expect(detectProfile(repoWith({ "README.md": "" })).name).toBe("generic");
  });

  it("node: runs a plain `node --test` / `vitest` test script directly, anything else through npm test", () => {
    expect(nodeTestCommand(node({ test: "node --test" }))).toBe("node --test");
    expect(nodeTestCommand(node({ test: "node --test  --test-concurrency=1 test/" }))).toBe(
      "node --test --test-concurrency=1 test/",
    );
    expect(nodeTestCommand(node({ test: "vitest run" }))).toBe("npx --no-install vitest run");
    // Shell syntax, quotes, globs, env assignments, other runners, pre/post scripts: npm test knows best.
    const plainNot: Array<Record<string, string>> = [
      { test: "npm run build && node --test" },
      { test: "node --test 'test/*.js'" },
      { test: "node --test test/*.test.js" },
      { test: "NODE_ENV=test vitest" },
      { test: "jest" },
      { test: "node test/run.js" },
      { test: "node --test", pretest: "tsc" },
      { test: "vitest", posttest: "echo done" },
      { lint: "biome check ." },
    ];
    for (const scripts of plainNot)
      expect(nodeTestCommand(node(scripts)), JSON.stringify(scripts)).toBe(undefined);
    expect(nodeTestCommand(repoWith({ "package.json": "{ not json" }))).toBe(undefined);
    expect(nodeTestCommand(repoWith({}))).toBe(undefined);
  });

  it("resolves commands: the profile's defaults, the repository's runner, the user's overrides last", () => {
    const repo = node({ test: "node --test" });
    expect(resolveCommands(profileOf("node")).test).toBe("npm test");
    expect(resolveCommands(profileOf("node"), {}, repo).test).toBe("node --test");
    expect(resolveCommands(profileOf("node"), {}, node({ test: "jest" })).test).toBe("npm test");
    expect(resolveCommands(profileOf("node"), { test: "npm run unit" }, repo).test).toBe("npm run unit");
    expect(resolveCommands(profileOf("python"), {}, repo).test).toBe("python -m pytest -q");
  });
});
