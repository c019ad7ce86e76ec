import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { createFile, replaceInFile, viewFile } from "../src/brain/file-tools.js";
import { WorkspacePathError } from "../src/workspace/errors.js";
import { resolveInSandbox } from "../src/workspace/local-path.js";
import { LocalWorkspace } from "../src/workspace/local-workspace.js";
import { tempDir } from "./helpers.js";
import { runScriptedBrain } from "./llm-fixtures.js";
import type { ScriptedCall, ScriptedLlmServer } from "./llm-server.js";

let server: ScriptedLlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const NO_FAILURES = { treeHash: "", startedAt: "", durationMs: 0, runs: [] };

/** A sandbox with a link to a folder outside it and a link to a file outside it. */
function sandboxWithEscapes() {
  const base = tempDir();
  const sandbox = path.join(base, "sandbox");
  const outside = path.join(base, "outside");
  mkdirSync(path.join(sandbox, "src"), { recursive: true });
  mkdirSync(outside);
  writeFileSync(path.join(sandbox, "src", "a.py"), "x = 1\n");
  writeFileSync(path.join(outside, "secret.txt"), "outside secret\n");
  symlinkSync(outside, path.join(sandbox, "out"));
  symlinkSync(path.join(outside, "secret.txt"), path.join(sandbox, "secret.txt"));
  symlinkSync("src", path.join(sandbox, "inner")); // a link that stays inside is fine
  return { sandbox, outside };
}

describe("tools are confined to the sandbox", () => {
  it("resolveInSandbox refuses .., absolute paths, links out and .git; allows links that stay inside", () => {
    const { sandbox } = sandboxWithEscapes();
    const files = new LocalWorkspace(sandbox);
    const refuse = (p: string, why: RegExp) => {
      expect(() => resolveInSandbox(files.root, p)).toThrowError(WorkspacePathError);
      expect(() => resolveInSandbox(files.root, p)).toThrowError(why);
    };
    refuse("../../etc/passwd", /outside the sandbox/);
    refuse("src/../../x", /outside the sandbox/);
    refuse("/etc/passwd", /absolute paths are not allowed/);
    refuse("C:\\Windows\\win.ini", /absolute paths are not allowed/);
    refuse("\\\\server\\share\\x", /absolute paths are not allowed/);
    refuse("out/secret.txt", /symlink that points outside/);
    refuse("out/new/deep.txt", /symlink that points outside/);
    refuse("secret.txt", /symlink that points outside/);
    refuse(".git/config", /\.git folder is off limits/);
    expect(resolveInSandbox(files.root, "inner/a.py").rel).toBe("src/a.py");
    expect(resolveInSandbox(files.root, "src/../src/new.py").rel).toBe("src/new.py");
    // every refusal tells the model what to send instead
    expect(() => resolveInSandbox(files.root, "../x")).toThrowError(/relative to the sandbox root/);
  });

  it("through the real loop: ../../etc/passwd, absolute, and symlinks out are refused; nothing outside is read or written", async () => {
    const { sandbox, outside } = sandboxWithEscapes();
    const attempts: ScriptedCall[] = [
      { name: "view_file", args: { path: "../../etc/passwd" } },
      { name: "view_file", args: { path: "/etc/passwd" } },
      { name: "view_file", args: { path: "secret.txt" } },
      { name: "view_file", args: { path: "out/secret.txt" } },
      { name: "list_dir", args: { path: ".." } },
      { name: "search_text", args: { pattern: "secret", path: "out" } },
      { name: "create_file", args: { path: "out/evil.txt", content: "pwned" } },
      { name: "replace_in_file", args: { path: "secret.txt", old_text: "outside", new_text: "pwned" } },
    ];
    const run = await runScriptedBrain({
      initial: NO_FAILURES,
      python: inject("python"),
      opts: {
        workspace: new LocalWorkspace(sandbox),
        limits: { maxAttempts: 1, maxSteps: 3, attemptTimeoutMs: 60_000 },
      },
      script: [
        { type: "tools", calls: attempts },
        // a whole-sandbox search must not follow the links out either
        { type: "tools", calls: [{ name: "search_text", args: { pattern: "outside secret" } }] },
        { type: "tools", calls: [{ name: "finish", args: { summary: "tried to escape" } }] },
      ],
    });
    server = run.server;
    const results = run.events(1).filter((e) => e.type === "tool_result");
    expect(results).toHaveLength(attempts.length + 2);
    for (const r of results.slice(0, attempts.length)) {
      expect(r.isError).toBe(true);
      expect(r.output).toMatch(/^refused/);
      expect(r.output).not.toContain("root:x:0:0");
      expect(r.output).not.toContain("outside secret");
    }
    expect(results[attempts.length]!.output).toContain("no match");
    expect(existsSync(path.join(outside, "evil.txt"))).toBe(false);
    expect(readFileSync(path.join(outside, "secret.txt"), "utf8")).toBe("outside secret\n");
    expect(run.result.attempts[0]!.filesChanged).toEqual([]);
    // the refusals reached the model on the wire
    expect(JSON.stringify(run.server.requests[1]!.body.messages)).toContain("leads outside the sandbox");
  });

  it("replace_in_file explains not-found and not-unique; output of every tool is capped", () => {
    const base = tempDir();
    writeFileSync(path.join(base, "m.py"), "def f():\n    return 1\n\n\ndef g():\n    return 1\n");
    writeFileSync(path.join(base, "big.txt"), `${"x".repeat(300)}\n`.repeat(300));
    const files = new LocalWorkspace(base);
    expect(() => replaceInFile(files, "m.py", "return 1", "return 2")).toThrowError(
      /occurs 2 times .*lines 2, 6/,
    );
    expect(() => replaceInFile(files, "m.py", "def f():\n  return 1", "x")).toThrowError(
      /not found.*first line appears at line\(s\) 1/,
    );
    expect(replaceInFile(files, "m.py", "def g():\n    return 1", "def g():\n    return 2")).toContain(
      "6|     return 2",
    );
    expect(createFile(files, "pkg/sub/new.py", "y = 2\n")).toContain("created pkg/sub/new.py");
    expect(() => createFile(files, "m.py", "")).toThrowError(
      /already exists: change it with replace_in_file/,
    );
    expect(files.changedFiles()).toEqual(["m.py", "pkg/sub/new.py"]);
    files.undo();
    expect(readFileSync(path.join(base, "m.py"), "utf8")).toContain("def g():\n    return 1");
    expect(existsSync(path.join(base, "pkg"))).toBe(false);
    writeFileSync(path.join(base, "win.py"), "def h():\r\n    return 0\r\n");
    expect(viewFile(files, "win.py")).toContain("2|     return 0\n");
    replaceInFile(files, "win.py", "def h():\n    return 0", "def h():\n    return 1");
    expect(readFileSync(path.join(base, "win.py"), "utf8")).toBe("def h():\r\n    return 1\r\n");
    expect(viewFile(files, "big.txt").split("\n").length).toBeLessThanOrEqual(202);
    expect(viewFile(files, "big.txt")).toContain("ask for them with start_line");
  });
});

describe("keys are never written", () => {
  it("a planted key echoed by the model, a file and the server's errors appears nowhere under the output folder", async () => {
    const KEY = "sk-planted-9f8e7d6c5b4a3210-DO-NOT-LEAK";
    const root = tempDir();
    const trajectoryDir = path.join(root, "trajectories", "cycle_001");
    const logs: string[] = [];
    const run = await runScriptedBrain({
      initial: NO_FAILURES,
      python: inject("python"),
      env: { OPENAI_API_KEY: KEY },
      opts: {
        trajectoryDir,
        log: (l) => logs.push(l),
        task: { kind: "failure", target: "x", title: "t", signature: "s", detail: `env had ${KEY}` },
        limits: { maxAttempts: 2, maxSteps: 4, attemptTimeoutMs: 60_000 },
      },
      script: [
        { type: "error", status: 429, message: `slow down, key ${KEY}`, headers: { "retry-after-ms": "1" } },
        {
          type: "tools",
          text: `my key is ${KEY}`,
          calls: [{ name: "create_file", args: { path: "leak.txt", content: `token=${KEY}\n` } }],
        },
        { type: "tools", calls: [{ name: "view_file", args: { path: "leak.txt" } }] },
        { type: "tools", calls: [{ name: "finish", args: { summary: `done with ${KEY}` } }] },
        { type: "error", status: 401, message: `Incorrect API key provided: ${KEY}` },
      ],
    });
    server = run.server;
    // the key was really used on the wire
    expect(run.server.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(run.result.status).toBe("llm_error");
    expect(run.result.error!.kind).toBe("auth");
    const walk = (d: string): string[] =>
      readdirSync(d).flatMap((n) => {
        const p = path.join(d, n);
        return statSync(p).isDirectory() ? walk(p) : [p];
      });
    const written = walk(root);
    expect(written.length).toBeGreaterThanOrEqual(2);
    for (const f of written) expect(readFileSync(f, "utf8")).not.toContain(KEY);
    expect(readFileSync(path.join(trajectoryDir, "1.jsonl"), "utf8")).toContain("[REDACTED:OPENAI_API_KEY]");
    expect(JSON.stringify(run.result)).not.toContain(KEY);
    expect(logs.join("\n")).not.toContain(KEY);
  });
});
