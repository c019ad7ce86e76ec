import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { parseConfig } from "../src/config/load.js";
import type { Check } from "../src/core/types.js";
import { runProcess } from "../src/exec/run-process.js";
import type { GateContext } from "../src/gates/gate.js";
import { profileOf, profiles } from "../src/profiles/index.js";
import {
  GOLDEN_TEMPLATES,
  GoldenConfigError,
  type GoldenProject,
  goldenGate,
  installGoldenProjects,
  odibiGateContext,
  planGoldenRun,
  pythonImportRoot,
  validateChecks,
  validateGate,
} from "../src/profiles/odibi/index.js";
import { venvBin } from "../src/pyenv/python-env.js";
import { tempDir, writeFiles } from "./helpers.js";

let goldenDir: string;
let projects: GoldenProject[];
const logLines: string[] = [];

function gateContext(workdir: string, golden: string): GateContext {
  return odibiGateContext({
    workdir,
    venv: inject("venv"),
    config: parseConfig("source:\n  sacred_repo: /nowhere\nprofile: odibi\n", "config.yaml"),
    goldenDir: golden,
    outputDir: tempDir(),
    timeoutMs: 120_000,
  });
}

beforeAll(async () => {
  goldenDir = path.join(tempDir(), "golden");
  projects = await installGoldenProjects(goldenDir, inject("venv"), (l) => logLines.push(l));
}, 240_000);

describe("golden projects from odibi's templates", () => {
  it("installs hello, scd2 and star-schema with config, data and manifest, read-only", () => {
    expect(projects.map((p) => p.name)).toEqual([...GOLDEN_TEMPLATES].sort());
    for (const p of projects) {
      expect(p.config).toBe(path.join(goldenDir, p.name, "odibi.yaml"));
      expect(p.manifest).toMatchObject({ name: p.name, template: p.name, odibiVersion: "3.15.1" });
      expect(existsSync(path.join(p.dir, "sample_data", "customers.csv"))).toBe(true);
      // Only what a run needs: no Dockerfile, CI workflow or MCP config from the scaffold.
      expect(existsSync(path.join(p.dir, "Dockerfile"))).toBe(false);
      if (process.platform !== "win32") expect(statSync(p.config).mode & 0o222).toBe(0);
      const text = readFileSync(p.config, "utf8");
      expect(text).toMatch(/^engine: pandas$/m);
      expect(text).toMatch(/async_derived_updates: false/);
    }
  });

  it("are prepared at init only by the odibi profile", () => {
    expect(profileOf("odibi").prepare).toBeTypeOf("function");
    for (const p of profiles()) if (p.name !== "odibi") expect(p.prepare, p.name).toBeUndefined();
  });

  it("is idempotent: a second install keeps what is there", async () => {
    const before = readFileSync(path.join(goldenDir, "hello", "golden.json"), "utf8");
    const again = await installGoldenProjects(goldenDir, inject("venv"), (l) => logLines.push(l), {
      templates: ["hello"],
    });
    expect(again.map((p) => p.name)).toContain("hello");
    expect(readFileSync(path.join(goldenDir, "hello", "golden.json"), "utf8")).toBe(before);
    expect(logLines).toContain("golden project hello: already installed");
    const forced = await installGoldenProjects(goldenDir, inject("venv"), () => {}, {
      templates: ["hello"],
      force: true,
    });
    expect(forced.find((p) => p.name === "hello")!.manifest!.installedAt).not.toBe(
      JSON.parse(before).installedAt,
    );
  });

  it("plans a run: inputs read in place (absolute), outputs and stories in the run folder", () => {
    const star = projects.find((p) => p.name === "star-schema")!;
    const plan = planGoldenRun(readFileSync(star.config, "utf8"), star.dir);
    expect(plan.pipelines).toEqual(["build_dimensions", "build_facts"]);
    expect(plan.inputs).toEqual({ source: path.join(star.dir, "sample_data") });
    expect(plan.text).toContain(`base_path: ${path.join(star.dir, "sample_data")}`);
    expect(plan.text).toMatch(/base_path: \.\/data\/gold/);
    expect(plan.storyDir).toBe(path.join("./data/gold", "stories"));
    expect(() => planGoldenRun("project: [", star.dir)).toThrow(GoldenConfigError);
  });
});

describe("validate gate", () => {
  it("passes every golden config with the installed odibi", async () => {
    const run = await validateGate.run(gateContext(inject("odibiSource"), goldenDir));
    expect(run.command).toContain("--format json");
    expect(run.checks.map((c) => [c.id, c.status])).toEqual(
      projects.map((p) => [`validate:${p.name}`, "pass"]),
    );
  });

  it("reports odibi's error code, field path and line for broken configs", async () => {
    const dir = path.join(tempDir(), "golden");
    const hello = readFileSync(path.join(goldenDir, "hello", "odibi.yaml"), "utf8");
    writeFiles(dir, {
      "bad-model/odibi.yaml": hello.replace("mode: overwrite", "mode: sideways"),
      "bad-yaml/odibi.yaml": "project: x\nconnections: [\n",
    });
    const run = await validateGate.run(gateContext(inject("odibiSource"), dir));
    const byId = new Map(run.checks.map((c) => [c.id, c]));
    expect(byId.get("validate:bad-model")?.status).toBe("fail");
    expect(
      byId.get("validate:bad-model:MODEL_VALIDATION_FAILED:pipelines.0.nodes.0.write.mode"),
    ).toMatchObject({
      status: "fail",
      errorType: "MODEL_VALIDATION_FAILED",
      file: path.join(dir, "bad-model", "odibi.yaml"),
    });
    const yamlErr = byId.get("validate:bad-yaml:YAML_PARSE_ERROR:root");
    expect(yamlErr).toMatchObject({ status: "fail", errorType: "YAML_PARSE_ERROR" });
    expect(yamlErr?.line).toBeGreaterThan(0);

    // The golden gate on the same broken project: odibi run fails before any story; no check passes.
    const golden = await goldenGate.run(gateContext(inject("odibiSource"), dir), {
      only: ["golden:bad-model"],
    });
    expect(golden.checks.map((c) => [c.id, c.status, c.errorType])).toEqual([
      ["golden:bad-model", "fail", "OdibiRunFailed"],
      ["golden:bad-model/ingest", "fail", "MissingStory"],
    ]);
  });

  it("turns a validator that prints no report into a failing check, not a pass", () => {
    const checks = validateChecks("p", "/g/p/odibi.yaml", {
      file: "python",
      args: [],
      cwd: "/",
      exitCode: 1,
      signal: null,
      stdout: "",
      stderr: "Traceback (most recent call last):\nImportError: boom",
      stdoutBytes: 0,
      stderrBytes: 40,
      truncated: false,
      timedOut: false,
      aborted: false,
      durationMs: 5,
    });
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ id: "validate:p", status: "fail", errorType: "ValidatorCrashed" });
    expect(checks[0]!.detail).toContain("ImportError: boom");
  });
});

describe("gate env runs the sandbox's own odibi", () => {
  it("imports odibi from the tree under test, and an edit there changes the gate's outcome", async () => {
    const venv = inject("venv");
    const sandbox = path.join(tempDir(), "sandbox");
    cpSync(inject("odibiSource"), sandbox, { recursive: true });
    expect(pythonImportRoot(sandbox)).toBe(sandbox);

    // One golden project is enough here (each validate starts a Python that imports odibi).
    const helloOnly = path.join(tempDir(), "golden");
    cpSync(path.join(goldenDir, "hello"), path.join(helloOnly, "hello"), { recursive: true });
    const ctx = gateContext(sandbox, helloOnly);
    const where = await runProcess(venvBin(venv, "python"), ["-c", "import odibi; print(odibi.__file__)"], {
      cwd: ctx.outputDir,
      env: ctx.env,
      timeoutMs: 60_000,
    });
    expect(where.stdout.trim()).toBe(path.join(sandbox, "odibi", "__init__.py"));

    const installed = await runProcess(
      venvBin(venv, "python"),
      ["-c", "import odibi; print(odibi.__file__)"],
      {
        cwd: ctx.outputDir,
        timeoutMs: 60_000,
      },
    );
    const installedInit = installed.stdout.trim();
    expect(installedInit).toContain("site-packages");
    const installedBefore = readFileSync(installedInit, "utf8");

    const ok = await validateGate.run(ctx);
    expect(ok.checks.every((c: Check) => c.status === "pass")).toBe(true);

    // A bug in the sandbox: odibi's package no longer imports.
    const init = path.join(sandbox, "odibi", "__init__.py");
    writeFileSync(init, `${readFileSync(init, "utf8")}\nraise RuntimeError("sandbox edit breaks odibi")\n`);
    const broken = await validateGate.run(gateContext(sandbox, helloOnly));
    expect(broken.checks.length).toBe(1);
    for (const c of broken.checks) {
      expect(c).toMatchObject({ status: "fail", errorType: "ValidatorCrashed" });
      expect(c.detail).toContain("sandbox edit breaks odibi");
    }
    // The installed odibi is untouched, and still validates.
    expect(readFileSync(installedInit, "utf8")).toBe(installedBefore);
    const master = await validateGate.run(gateContext(inject("odibiSource"), helloOnly));
    expect(master.checks.every((c) => c.status === "pass")).toBe(true);
  }, 180_000);
});
