import path from "node:path";
import type { Workspace } from "../workspace/workspace.js";

/**
 * The syntax check the brain returns with an edit (`replace_in_file`, `create_file`): the model hears of a broken
 * file at once, not after a gate run. The file's text goes to the checker on stdin, so the checker reads nothing in
 * the sandbox and writes nothing there (no `__pycache__`). What it says goes into the tool result; the edit stays.
 */
export type SyntaxChecker = (
  workspace: Workspace,
  rel: string,
  signal?: AbortSignal,
) => Promise<string | undefined>;

interface SyntaxCommand {
  /** What the result names ("python compile", "node --check", "gofmt -e"). */
  tool: string;
  file: string;
  args: string[];
  /** The error lines as `rel:line: message`. */
  errors: (stdout: string, stderr: string) => string[];
}

/**
 * compile(), not py_compile: the same errors (the parser's and the compiler's, e.g. `return` outside a function)
 * without a bytecode file. `-I` ignores PYTHON* variables (the gates put the tree's code on PYTHONPATH: a model's
 * `sitecustomize.py` there would run) and keeps the working folder off sys.path; `-B` writes no bytecode for what it
 * imports; `-W ignore` keeps warnings (invalid escapes) out of a clean result. A SyntaxError without a line (a bad
 * source encoding) says `?`.
 */
const PYTHON_CHECK = [
  "import sys",
  "p = sys.argv[1]",
  "try:",
  "    compile(sys.stdin.buffer.read(), p, 'exec', dont_inherit=True)",
  "except SyntaxError as e:",
  "    print(f'{p}:{e.lineno or \"?\"}: {type(e).__name__}: {e.msg}')",
  "    sys.exit(1)",
].join("\n");

const MAX_ERROR_LINES = 5;

/** Code the brain cannot check alone, said so in the result (the model must not take silence for "ok"). */
const UNCHECKED: Record<string, string> = {
  ".ts": "TypeScript",
  ".tsx": "TypeScript",
  ".mts": "TypeScript",
  ".cts": "TypeScript",
  ".rs": "Rust",
};

/** `[stdin]:3` then the source line, a caret and `SyntaxError: …`: one line, `rel:3: SyntaxError: …`. */
function nodeErrors(rel: string, stderr: string): string[] {
  const line = /^\[stdin\]:(\d+)/m.exec(stderr)?.[1];
  const message = /^(\w*Error: .*)$/m.exec(stderr)?.[1];
  if (!message) return [];
  return [`${rel}:${line ?? "?"}: ${message}`];
}

/**
 * How node reads a `.js` file: as a module when the nearest package.json in the sandbox says `"type": "module"`.
 * A package.json that is not JSON counts as CommonJS (node refuses to run such a package anyway).
 */
export function packageTypeOf(workspace: Workspace, rel: string): "module" | "commonjs" {
  for (let dir = path.posix.dirname(rel); ; dir = path.posix.dirname(dir)) {
    const manifest = dir === "." ? "package.json" : `${dir}/package.json`;
    let text: string | undefined;
    try {
      text = workspace.read(manifest);
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      try {
        return (JSON.parse(text) as { type?: unknown }).type === "module" ? "module" : "commonjs";
      } catch {
        return "commonjs";
      }
    }
    if (dir === ".") return "commonjs";
  }
}

/**
 * The checker for a file, by its extension; undefined when there is none: TypeScript (no parser without a new
 * dependency), Rust (rustc cannot check one file without its crate) and every other language.
 */
export function syntaxCommand(
  rel: string,
  packageType: () => "module" | "commonjs",
): SyntaxCommand | undefined {
  const ext = path.extname(rel).toLowerCase();
  switch (ext) {
    case ".py":
      return {
        tool: "python compile",
        file: "python",
        args: ["-I", "-B", "-W", "ignore", "-c", PYTHON_CHECK, rel],
        errors: (stdout) => stdout.trim().split("\n").filter(Boolean),
      };
    case ".js":
    case ".mjs":
    case ".cjs": {
      const type = ext === ".mjs" ? "module" : ext === ".cjs" ? "commonjs" : packageType();
      return {
        tool: "node --check",
        // This process's node: the jail shows the system folders it lives in.
        file: process.execPath,
        args: ["--check", `--input-type=${type}`],
        errors: (_stdout, stderr) => nodeErrors(rel, stderr),
      };
    }
    case ".go":
      return {
        tool: "gofmt -e",
        file: "gofmt",
        args: ["-e"],
        errors: (_stdout, stderr) =>
          stderr
            .trim()
            .split("\n")
            .filter(Boolean)
            .map((l) => l.replace(/^<standard input>/, rel)),
      };
    default:
      return undefined;
  }
}

/**
 * A checker that runs through the workspace (jailed when the gates are) with the gates' environment `env` (the venv's
 * python first on PATH). A checker that cannot start or does not finish is said so: the edit is not blamed for it.
 */
export function createSyntaxChecker(opts: {
  env: Record<string, string>;
  timeoutMs?: number;
}): SyntaxChecker {
  return async (workspace, rel, signal) => {
    const cmd = syntaxCommand(rel, () => packageTypeOf(workspace, rel));
    if (!cmd) {
      const language = UNCHECKED[path.extname(rel).toLowerCase()];
      return language && `syntax check: none for ${language} files (run_gates builds and tests them)`;
    }
    const content = workspace.read(rel);
    const r = await workspace.exec(cmd.file, cmd.args, {
      env: opts.env,
      input: content,
      timeoutMs: opts.timeoutMs ?? 30_000,
      maxOutputBytes: 64 * 1024,
      signal,
    });
    if (r.spawnError)
      return `syntax check (${cmd.tool}) not run: could not start ${cmd.file}: ${r.spawnError}`;
    if (r.timedOut || r.aborted) return `syntax check (${cmd.tool}) not run: it did not finish`;
    if (r.exitCode === 0) return `syntax check (${cmd.tool}): ok`;
    const errors = cmd.errors(r.stdout, r.stderr);
    if (errors.length === 0) {
      const said = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-3).join(" | ");
      return `syntax check (${cmd.tool}) failed without an error line (exit ${r.exitCode}): ${said}`;
    }
    const more =
      errors.length > MAX_ERROR_LINES ? `\n… ${errors.length - MAX_ERROR_LINES} more error lines` : "";
    return `SYNTAX ERROR (${cmd.tool}); the edit was applied, fix it:\n${errors.slice(0, MAX_ERROR_LINES).join("\n")}${more}`;
  };
}
