import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { Budget } from "../src/brain/budget.js";
import { createLlmImprover } from "../src/brain/llm-improver.js";
import { createSyntaxChecker } from "../src/brain/syntax-check.js";
import { ConfigSchema } from "../src/config/schema.js";
import type { Task } from "../src/core/types.js";
import { createJailedRunner, probeIsolation } from "../src/exec/jail.js";
import { runProcess } from "../src/exec/run-process.js";
import { makeGateContext } from "../src/gates/context.js";
import { checkGates } from "../src/gates/pipeline.js";
import { createLlmClient } from "../src/llm/client.js";
import { profileOf } from "../src/profiles/index.js";
import { venvBinDir } from "../src/pyenv/python-env.js";
import { LocalWorkspace } from "../src/workspace/local-workspace.js";
import { itWhen } from "./ci-required.js";
import { makeGitRepo, tempDir } from "./helpers.js";
import { makeCalcRepo, pytestGates, runScriptedBrain, testSettings } from "./llm-fixtures.js";
import { requestText, type ScriptedLlmServer, startLlmServer } from "./llm-server.js";

let server: ScriptedLlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The gates' environment: the venv's python first on PATH. */
const gateEnv = () => ({ PATH: `${venvBinDir(inject("venv"))}${path.delimiter}${process.env.PATH}` });

/** Every path under `dir` (the .git folder left out), to show a check wrote nothing. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((p) => !p.split(path.sep).includes(".git"))
    .sort();
}

describe("an edit comes back with a syntax check of the file", () => {
  it("a syntax error reaches the model in the edit's result, the edit stays, the fix is checked ok", async () => {
    const python = inject("python");
    const initial = await pytestGates(python, await makeCalcRepo())({ scope: "full", only: [] });
    const run = await runScriptedBrain({
      python,
      initial,
      script: [
        {
          type: "tools",
          calls: [
            {
              name: "replace_in_file",
              args: { path: "calc.py", old_text: "return a - b", new_text: "return a +" },
            },
          ],
        },
        {
          type: "tools",
          calls: [
            {
              name: "replace_in_file",
              args: { path: "calc.py", old_text: "return a +", new_text: "return a + b" },
            },
          ],
        },
        {
          type: "tools",
          calls: [
            { name: "create_file", args: { path: "helpers/broken.py", content: "def f(:\n    pass\n" } },
          ],
        },
        { type: "tools", calls: [{ name: "finish", args: { summary: "add() adds" } }] },
      ],
      opts: {
        checkSyntax: createSyntaxChecker({ env: gateEnv() }),
      },
    });
    server = run.server;
    const second = requestText(run.server.requests[1]!);
    expect(second).toContain("replaced in calc.py");
    expect(second).toContain("SYNTAX ERROR (python compile); the edit was applied, fix it:");
    expect(second).toContain("calc.py:2: SyntaxError: invalid syntax");
    expect(requestText(run.server.requests[2]!)).toContain("syntax check (python compile): ok");
    const fourth = requestText(run.server.requests[3]!);
    expect(fourth).toContain("created helpers/broken.py");
    expect(fourth).toContain("helpers/broken.py:1: SyntaxError:");
    // The broken file stayed (the model is told, not overruled); pytest never imports it, so the fix is kept.
    expect(run.result.status).toBe("fixed");
    expect(readFileSync(path.join(run.sandbox, "helpers", "broken.py"), "utf8")).toBe("def f(:\n    pass\n");
    expect(readFileSync(path.join(run.sandbox, "calc.py"), "utf8")).toContain("return a + b");
  });
});

describe("the syntax checker, per language", async () => {
  const probe = await probeIsolation();
  const withJail = itWhen(
    probe.available,
    `the bubblewrap jail does not work here (${probe.reason}): apt-get install bubblewrap`,
  );
  const haveGofmt =
    (await runProcess("gofmt", ["-l"], { cwd: tempDir(), input: "", timeoutMs: 30_000 })).exitCode === 0;
  const withGofmt = itWhen(haveGofmt, "gofmt is not installed (Debian: apt-get install golang-go)");

  /** A sandbox with `files` and a checker on it (unjailed unless `jailed`; `pythonPath` in the tree on PYTHONPATH). */
  async function setup(files: Record<string, string>, jailed = false, pythonPath?: string) {
    const sandbox = await makeGitRepo(path.join(tempDir(), "sandbox"), files);
    const run = jailed
      ? createJailedRunner({ mode: "bwrap", sandbox, readOnly: [inject("venv")] })
      : runProcess;
    const env = { ...gateEnv(), ...(pythonPath ? { PYTHONPATH: path.join(sandbox, pythonPath) } : {}) };
    const check = createSyntaxChecker({ env });
    return { sandbox, check: (rel: string) => check(new LocalWorkspace(sandbox, run), rel) };
  }

  withJail(
    "python, jailed: compile() finds parser and compiler errors, writes nothing, imports nothing from its PYTHONPATH",
    async () => {
      const { sandbox, check } = await setup(
        {
          "pkg/ok.py": "import os\n\n\ndef f():\n    return os.sep\n",
          "pkg/bad.py": "def f():\n    x = [1,\n",
          "pkg/outside.py": "x = 1\nreturn x\n",
          "pkg/enc.py": "# -*- coding: nonexistent -*-\nx = 1\n",
          // The gates put the tree's code on PYTHONPATH (odibi: src/): -I ignores it, so this never runs.
          "src/sitecustomize.py": "open('imported.txt', 'w').write('ran')\n",
        },
        true,
        "src",
      );
      const before = tree(sandbox);
      expect(await check("pkg/ok.py")).toBe("syntax check (python compile): ok");
      expect(await check("pkg/bad.py")).toMatch(
        /^SYNTAX ERROR \(python compile\); the edit was applied, fix it:\npkg\/bad\.py:2: SyntaxError: '\[' was never closed$/,
      );
      // A compiler error (no parse error): py_compile's set, without its bytecode file.
      expect(await check("pkg/outside.py")).toContain(
        "pkg/outside.py:2: SyntaxError: 'return' outside function",
      );
      // An error with no line.
      expect(await check("pkg/enc.py")).toContain("pkg/enc.py:?: SyntaxError: unknown encoding: nonexistent");
      expect(tree(sandbox)).toEqual(before);
    },
  );

  it("node --check: .mjs as a module, .cjs as CommonJS, .js by the nearest package.json's type", async () => {
    const { sandbox, check } = await setup({
      "a.mjs": 'import x from "y";\nexport const a = x;\n',
      "b.cjs": 'import x from "y";\n',
      "esm/package.json": '{ "type": "module" }\n',
      "esm/lib/c.js": 'import x from "y";\nexport const c = x;\n',
      "d.js": "const d = (;\n",
    });
    const before = tree(sandbox);
    expect(await check("a.mjs")).toBe("syntax check (node --check): ok");
    expect(await check("b.cjs")).toMatch(
      /b\.cjs:1: SyntaxError: Cannot use import statement outside a module/,
    );
    expect(await check("esm/lib/c.js")).toBe("syntax check (node --check): ok");
    expect(await check("d.js")).toBe(
      "SYNTAX ERROR (node --check); the edit was applied, fix it:\nd.js:1: SyntaxError: Unexpected token ';'",
    );
    expect(tree(sandbox)).toEqual(before);
  });

  withGofmt("go: gofmt -e lists every error with the file's path", async () => {
    const { check } = await setup({
      "ok.go": "package main\n\nfunc main() {}\n",
      "cmd/bad.go": "package main\n\nfunc main() {\n\tx :=\n}\n",
    });
    expect(await check("ok.go")).toBe("syntax check (gofmt -e): ok");
    expect(await check("cmd/bad.go")).toMatch(/fix it:\ncmd\/bad\.go:5:1: expected operand, found '}'/);
  });

  it("TypeScript and Rust get no check, said so; other files nothing; a checker that cannot start says so", async () => {
    const { sandbox, check } = await setup({
      "a.ts": "const a = (;\n",
      "lib.rs": "fn (\n",
      "x.py": "x = 1\n",
    });
    expect(await check("a.ts")).toBe(
      "syntax check: none for TypeScript files (run_gates builds and tests them)",
    );
    expect(await check("lib.rs")).toBe("syntax check: none for Rust files (run_gates builds and tests them)");
    expect(await check("README.md")).toBeUndefined();
    const noPython = createSyntaxChecker({ env: { PATH: tempDir() } });
    expect(await noPython(new LocalWorkspace(sandbox), "x.py")).toMatch(
      /^syntax check \(python compile\) not run: could not start python: /,
    );
  });
});

describe("in a campaign, the check runs through the gates' runner", async () => {
  const probe = await probeIsolation();
  const withJail = itWhen(
    probe.available,
    `the bubblewrap jail does not work here (${probe.reason}): apt-get install bubblewrap`,
  );

  withJail(
    "createLlmImprover checks an edit with the gate context's jailed runner and environment",
    async () => {
      const sandbox = await makeCalcRepo();
      const config = ConfigSchema.parse({
        source: { sacred_repo: "/nonexistent-sacred" },
        profile: "python",
        gates: { flake_reruns: 0 },
      });
      const golden = path.join(tempDir(), "golden");
      const outputDir = path.join(tempDir(), "out");
      mkdirSync(outputDir, { recursive: true });
      const jail = createJailedRunner({
        mode: "bwrap",
        sandbox,
        readOnly: [golden, inject("venv")],
        readWrite: [outputDir],
      });
      const ran: Array<{ file: string; args: readonly string[]; env?: Record<string, string | undefined> }> =
        [];
      const ctx = makeGateContext({
        run: (file, args, opts) => {
          ran.push({ file, args, env: opts.env });
          return jail(file, args, opts);
        },
        workdir: sandbox,
        config,
        profile: profileOf(config.profile),
        goldenDir: golden,
        outputDir,
        venv: inject("venv"),
      });
      const baseline = await checkGates(ctx);
      const target = baseline.runs.flatMap((r) => r.checks).find((c) => c.status === "fail")!;
      const task: Task = {
        kind: "failure",
        target: target.id,
        title: "fix",
        signature: "sig",
        gate: "tests",
      };
      server = await startLlmServer([
        {
          type: "tools",
          calls: [{ name: "replace_in_file", args: { path: "calc.py", old_text: "a - b", new_text: "a +" } }],
        },
        {
          type: "tools",
          calls: [{ name: "replace_in_file", args: { path: "calc.py", old_text: "a +", new_text: "a + b" } }],
        },
        { type: "tools", calls: [{ name: "finish", args: { summary: "add adds" } }] },
      ]);
      ran.length = 0;
      const r = await createLlmImprover({
        client: createLlmClient(testSettings("openai", `${server.origin}/v1`), {
          env: { OPENAI_API_KEY: "sk-syntax-000" },
        }),
        budget: new Budget(),
        limits: { maxAttempts: 1, maxSteps: 4, attemptTimeoutMs: 120_000, maxAttemptTokens: 300_000 },
        trajectoriesDir: path.join(tempDir(), "trajectories"),
      }).improve({
        sandbox: { id: "cycle_001", path: sandbox, baseCommit: "", createdAt: "" },
        task,
        baseline,
        ctx,
        avoid: [],
        cycle: 1,
        signal: new AbortController().signal,
      });
      expect(r.summary).toMatch(/^fixed in attempt 1/);
      expect(requestText(server.requests[1]!)).toContain("calc.py:2: SyntaxError: invalid syntax");
      expect(requestText(server.requests[2]!)).toContain("syntax check (python compile): ok");
      // Both checks went through the gates' runner, with their environment: the venv's python, the key unset.
      const checks = ran.filter((x) => x.file === "python" && x.args.includes("-I"));
      expect(checks).toHaveLength(2);
      for (const c of checks) {
        expect(c.env?.PATH?.startsWith(venvBinDir(inject("venv")))).toBe(true);
        expect(c.env && "OPENAI_API_KEY" in c.env && c.env.OPENAI_API_KEY === undefined).toBe(true);
      }
    },
  );
});
