import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { type ConfigInput, ConfigSchema } from "../src/config/schema.js";
import type { GateResult } from "../src/core/types.js";
import { createJailedRunner, probeIsolation } from "../src/exec/jail.js";
import type { CommandRunner } from "../src/exec/run-process.js";
import { runProcess } from "../src/exec/run-process.js";
import { goToolchain, rustToolchain } from "../src/exec/toolchains.js";
import { makeGateContext } from "../src/gates/context.js";
import { checkGates } from "../src/gates/pipeline.js";
import { profileOf } from "../src/profiles/index.js";
import { LocalWorkspace } from "../src/workspace/local-workspace.js";
import { itWhen } from "./ci-required.js";
import { GO_ENV, GO_EXPECTED_TESTS, makeGoFixture } from "./fixtures-go.js";
import { BIOME, makeNodeFixture, NODE_EXPECTED_TESTS } from "./fixtures-node.js";
import { makeRustFixture } from "./fixtures-rust.js";
import { tempDir } from "./helpers.js";

/** Node, go and rust fixtures through the real gates: command rewriting, parsing, re-runs by id. */
const statuses = (r: GateResult, gate: string) =>
  Object.fromEntries(
    r.runs.filter((x) => x.gate === gate).flatMap((x) => x.checks.map((c) => [c.id, c.status])),
  );

const calls: string[][] = [];
const recording: CommandRunner = (file, args, opts) => {
  calls.push([file, ...args]);
  return runProcess(file, args, opts);
};

function context(workdir: string, cfg: Partial<ConfigInput>, env: Record<string, string> = {}) {
  const config = ConfigSchema.parse({ source: { sacred_repo: "/nonexistent-sacred" }, ...cfg });
  return makeGateContext({
    workdir,
    config,
    profile: profileOf(config.profile),
    goldenDir: path.join(tempDir(), "golden"),
    outputDir: path.join(tempDir("oi gates out "), "out"),
    venv: inject("venv"),
    env,
    run: recording,
  });
}

const has = async (exe: string, args: string[]) =>
  (await runProcess(exe, args, { cwd: tempDir(), timeoutMs: 30_000 })).exitCode === 0;

describe("gates on other languages", async () => {
  const haveGo = await has("go", ["version"]);
  const haveCargo = (await has("cargo", ["--version"])) && (await has("cargo", ["clippy", "--version"]));
  const probe = await probeIsolation();
  const jail = probe.available;
  const noJail = `the bubblewrap jail does not work here (${probe.reason}): apt-get install bubblewrap`;
  const jailFor = (repo: string, outputDir: string, readOnly: string[]) =>
    createJailedRunner({ mode: "bwrap", sandbox: repo, readOnly, readWrite: [outputDir] });

  it("node: node --test (junit) and biome; failing tests re-run by name stay failures", async () => {
    const repo = await makeNodeFixture();
    const r = await checkGates(
      context(repo, { profile: "node", commands: { test: "node --test", lint: `"${BIOME}" lint .` } }),
      { flakeReruns: 1 },
    );
    expect(statuses(r, "tests")).toEqual(NODE_EXPECTED_TESTS);
    // A file that dies at import: JUnit says only "test failed"; the file's own output (TAP beside it) says why.
    const broken = r.runs.flatMap((x) => x.checks).find((c) => c.id === "test/broken.test.js")!;
    expect(broken.message).toMatch(/^Error \[ERR_MODULE_NOT_FOUND\]: Cannot find module '.*src\/nope\.js'/);
    expect(broken.errorType).toBe("Error");
    expect(broken.detail).toContain("imported from");
    expect(Object.keys(statuses(r, "lint")).sort()).toEqual([
      "lint/correctness/noUnusedImports:src/lint.js:1:8",
      "lint/suspicious/noDebugger:src/lint.js:4:5",
    ]);
    expect(r.runs.every((x) => x.error === undefined)).toBe(true);
    // The re-run asked node for the failing tests by name and for the broken file by path.
    const rerun = calls.filter((c) => c.includes("--test")).at(-1)!;
    expect(rerun).toEqual(
      expect.arrayContaining([
        "--test-name-pattern=^multiplies$",
        "--test-name-pattern=^throws$",
        "test/broken.test.js",
      ]),
    );
  });

  itWhen(haveGo, "go is not installed (Debian: apt-get install golang-go)")(
    "go: go test -json and go vet; re-runs select the failing tests' packages",
    async () => {
      const repo = await makeGoFixture();
      const r = await checkGates(
        context(
          repo,
          { profile: "go", commands: { test: "go test -vet=off ./...", lint: "go vet ./..." } },
          GO_ENV,
        ),
        { flakeReruns: 1 },
      );
      expect(statuses(r, "tests")).toEqual(GO_EXPECTED_TESTS);
      const rerun = calls.filter((c) => c[1] === "test").at(-1)!;
      expect(rerun).toEqual(
        expect.arrayContaining([
          "-run",
          "^(TestMul|TestSub)$",
          "example.com/fixture/calc",
          "example.com/fixture/broken",
        ]),
      );
      expect(rerun).not.toContain("./...");
      expect(Object.keys(statuses(r, "lint")).sort()).toEqual([
        "typecheck:broken/broken.go:3:26",
        "vet:calc/calc.go:10:28",
      ]);
    },
  );

  const rustGates = async (jailed: boolean) => {
    const repo = await makeRustFixture();
    const toolchain = jailed ? rustToolchain() : { readOnly: [], env: {} };
    const ctx = context(
      repo,
      { profile: "rust", commands: { test: "cargo test --offline", lint: "cargo clippy --offline" } },
      { RUST_BACKTRACE: "0", CARGO_TERM_COLOR: "never", ...toolchain.env },
    );
    return checkGates(
      jailed
        ? { ...ctx, workspace: new LocalWorkspace(repo, jailFor(repo, ctx.outputDir, toolchain.readOnly)) }
        : ctx,
    );
  };
  const expectRustResults = (r: GateResult) => {
    const tests = statuses(r, "tests");
    expect(
      Object.entries(tests)
        .map(([id, s]) => `${id.replace(/^.*::tests::/, "")}=${s}`)
        .sort(),
    ).toEqual(["adds=pass", "ignored=skip", "muls=fail", "panics=fail"]);
    expect(
      Object.keys(statuses(r, "lint")).some((id) => id.startsWith("clippy::ptr_arg:src/lib.rs:9:")),
    ).toBe(true);
  };

  itWhen(
    haveCargo,
    "cargo with clippy is not installed (https://rustup.rs, then rustup component add clippy)",
  )("rust: cargo test and clippy", async () => {
    expectRustResults(await rustGates(false));
  });

  // rustup keeps cargo itself in ~/.cargo/bin: without the toolchain mounts the jail cannot even start it.
  itWhen(
    haveCargo && jail,
    haveCargo
      ? noJail
      : "cargo with clippy is not installed (https://rustup.rs, then rustup component add clippy)",
  )("rust in the jail: rustup's toolchain from HOME, read-only and offline", async () => {
    const r = await rustGates(true);
    expect(r.runs.every((x) => x.error === undefined)).toBe(true);
    expectRustResults(r);
  });

  itWhen(haveGo && jail, haveGo ? noJail : "go is not installed (Debian: apt-get install golang-go)")(
    "go in the jail: the same results, no proxy, no toolchain download",
    async () => {
      const repo = await makeGoFixture();
      const base = context(repo, { profile: "go" });
      const toolchain = goToolchain({ scratch: base.outputDir });
      expect(toolchain.env).toMatchObject({
        GOPROXY: "off",
        GOTOOLCHAIN: "local",
        GOCACHE: path.join(base.outputDir, "go-build"),
      });
      const ctx = {
        ...context(
          repo,
          { profile: "go", commands: { test: "go test -vet=off ./...", lint: "go vet ./..." } },
          { ...GO_ENV, ...toolchain.env },
        ),
        outputDir: base.outputDir,
      };
      const r = await checkGates({
        ...ctx,
        workspace: new LocalWorkspace(repo, jailFor(repo, ctx.outputDir, toolchain.readOnly)),
      });
      expect(statuses(r, "tests")).toEqual(GO_EXPECTED_TESTS);
      expect(Object.keys(statuses(r, "lint")).sort()).toEqual([
        "typecheck:broken/broken.go:3:26",
        "vet:calc/calc.go:10:28",
      ]);
    },
  );

  it("any other command: one check from its exit code", async () => {
    const repo = tempDir();
    const node = JSON.stringify(process.execPath);
    const r = await checkGates(
      context(repo, {
        profile: "generic",
        commands: {
          lint: `${node} -e "process.exit(0)"`,
          test: `${node} -e "console.log('3 tests, 1 failed'); process.exit(1)"`,
        },
      }),
      { treeHash: "no-git-here" },
    );
    expect(r.runs.map((x) => x.checks.map((c) => [x.gate, c.id, c.status, c.errorType]))).toEqual([
      [["lint", "command", "pass", undefined]],
      [["tests", "command", "fail", "CommandFailed"]],
    ]);
    expect(r.runs[1]!.checks[0]!.detail).toContain("3 tests, 1 failed");
  });
});
