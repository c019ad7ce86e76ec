import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createSyntaxChecker } from "../src/brain/syntax-check.js";
import { executeTool, type ToolContext } from "../src/brain/tools.js";
import type { RunResult } from "../src/exec/run-process.js";
import { WorkspaceFileError, WorkspacePathError } from "../src/workspace/errors.js";
import type {
  Workspace,
  WorkspaceEntry,
  WorkspaceExecOptions,
  WorkspaceListing,
  WorkspaceSearch,
} from "../src/workspace/workspace.js";

/**
 * A second Workspace, in memory: files are map entries, nothing touches a disk, commands are recorded. The brain's
 * tools driven over it show they depend on the seam alone (the local one is the file system, a remote one a worker).
 */
class MemoryWorkspace implements Workspace {
  readonly root = path.join(path.sep, "memory-workspace-not-on-disk");
  readonly files: Map<string, string>;
  readonly ran: Array<{ file: string; args: readonly string[]; opts: WorkspaceExecOptions }> = [];
  private readonly originals = new Map<string, string | undefined>();

  constructor(files: Record<string, string>) {
    this.files = new Map(Object.entries(files));
  }

  resolve(p: string): string {
    const rel = path.posix.normalize(p || ".").replace(/\/$/, "");
    if (path.posix.isAbsolute(rel) || rel === ".." || rel.startsWith("../"))
      throw new WorkspacePathError(`refused ${JSON.stringify(p)}: it leads outside the workspace`);
    if (rel.split("/").includes(".git")) throw new WorkspacePathError(`refused ${JSON.stringify(p)}: .git`);
    return rel;
  }

  read(p: string): string {
    const rel = this.resolve(p);
    const text = this.files.get(rel);
    if (text === undefined) throw new WorkspaceFileError(`${rel} does not exist`);
    return text;
  }

  write(p: string, content: string): void {
    const rel = this.resolve(p);
    if (!this.originals.has(rel)) this.originals.set(rel, this.files.get(rel));
    this.files.set(rel, content);
  }

  create(p: string, content: string): void {
    const rel = this.resolve(p);
    if (this.files.has(rel)) throw new WorkspaceFileError(`${rel} already exists`);
    this.write(rel, content);
  }

  list(p: string, opts: { depth: number; limit: number }): WorkspaceListing {
    const rel = this.resolve(p);
    const prefix = rel === "." ? "" : `${rel}/`;
    const entries: WorkspaceEntry[] = [];
    const seen = new Set<string>();
    for (const key of [...this.files.keys()].filter((k) => k.startsWith(prefix)).sort()) {
      const parts = key.slice(prefix.length).split("/");
      for (let i = 1; i <= Math.min(opts.depth, parts.length); i++) {
        const at = prefix + parts.slice(0, i).join("/");
        if (seen.has(at)) continue;
        seen.add(at);
        entries.push(
          i === parts.length
            ? { path: at, kind: "file", size: Buffer.byteLength(this.files.get(key)!) }
            : { path: at, kind: "dir" },
        );
      }
    }
    return { entries: entries.slice(0, opts.limit), omitted: Math.max(0, entries.length - opts.limit) };
  }

  search(pattern: RegExp, p: string, opts: { maxMatches: number; maxLineChars: number }): WorkspaceSearch {
    const rel = this.resolve(p);
    const out: WorkspaceSearch = { matches: [], total: 0 };
    for (const key of [...this.files.keys()].sort()) {
      if (rel !== "." && key !== rel && !key.startsWith(`${rel}/`)) continue;
      this.files
        .get(key)!
        .split("\n")
        .forEach((line, i) => {
          if (!pattern.test(line)) return;
          out.total++;
          if (out.matches.length < opts.maxMatches)
            out.matches.push({ path: key, line: i + 1, text: line.trim().slice(0, opts.maxLineChars) });
        });
    }
    return out;
  }

  changedFiles(): string[] {
    return [...this.originals.keys()].sort();
  }

  undo(): void {
    for (const [rel, text] of this.originals)
      if (text === undefined) this.files.delete(rel);
      else this.files.set(rel, text);
    this.originals.clear();
  }

  keep(): void {
    this.originals.clear();
  }

  async exec(file: string, args: readonly string[], opts: WorkspaceExecOptions = {}): Promise<RunResult> {
    this.ran.push({ file, args, opts });
    return {
      file,
      args: [...args],
      cwd: opts.cwd ?? this.root,
      exitCode: 0,
      signal: null,
      stdout: "",
      stderr: "",
      stdoutBytes: 0,
      stderrBytes: 0,
      truncated: false,
      timedOut: false,
      aborted: false,
      durationMs: 0,
    };
  }
}

describe("the brain's tools over another Workspace", () => {
  it("list, view, search, replace (with its syntax check), create, undo and refusals go through the seam alone", async () => {
    const ws = new MemoryWorkspace({
      "README.md": "# calc\n",
      "pkg/mod.py": "def sub(a, b):\n    return a - b\n",
    });
    const check = createSyntaxChecker({ env: { PATH: "/venv/bin" } });
    const ctx: ToolContext = {
      workspace: ws,
      runGates: () => Promise.reject(new Error("not in this test")),
      checkSyntax: (rel) => check(ws, rel),
    };
    const call = (name: string, input: unknown) => executeTool(name, input, ctx);

    expect((await call("list_dir", { depth: 2 })).output).toBe("README.md (7 B)\npkg/\npkg/mod.py (32 B)");
    expect((await call("view_file", { path: "pkg/mod.py" })).output).toBe(
      "pkg/mod.py lines 1-3 of 3:\n1| def sub(a, b):\n2|     return a - b\n3| ",
    );
    expect((await call("search_text", { pattern: "a - b" })).output).toBe(
      "1 match(es):\npkg/mod.py:2: return a - b",
    );

    const replaced = await call("replace_in_file", {
      path: "pkg/mod.py",
      old_text: "a - b",
      new_text: "a + b",
    });
    expect(replaced.isError).toBe(false);
    expect(replaced.output).toContain("2|     return a + b");
    expect(replaced.output).toMatch(/syntax check \(python compile\): ok$/);
    expect(ws.files.get("pkg/mod.py")).toBe("def sub(a, b):\n    return a + b\n");
    // The syntax check ran through the workspace's exec, on the edited text, with the gates' environment.
    expect(ws.ran).toHaveLength(1);
    expect(ws.ran[0]!.file).toBe("python");
    expect(ws.ran[0]!.opts.input).toBe("def sub(a, b):\n    return a + b\n");
    expect(ws.ran[0]!.opts.env).toEqual({ PATH: "/venv/bin" });

    expect((await call("create_file", { path: "pkg/new.py", content: "X = 1\n" })).output).toMatch(
      /^created pkg\/new\.py \(2 lines\)/,
    );
    expect(ws.changedFiles()).toEqual(["pkg/mod.py", "pkg/new.py"]);

    // Refusals of the workspace reach the model as tool errors, whatever implementation refused.
    const outside = await call("view_file", { path: "../etc/passwd" });
    expect(outside).toMatchObject({ isError: true, output: expect.stringMatching(/^refused/) });
    expect(await call("view_file", { path: "pkg/gone.py" })).toMatchObject({
      isError: true,
      output: "pkg/gone.py does not exist",
    });
    expect(await call("create_file", { path: "README.md", content: "" })).toMatchObject({ isError: true });

    ws.undo();
    expect(ws.files.get("pkg/mod.py")).toBe("def sub(a, b):\n    return a - b\n");
    expect(ws.files.has("pkg/new.py")).toBe(false);
    expect(existsSync(ws.root)).toBe(false);
  });
});
