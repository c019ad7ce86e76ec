import type { Workspace } from "../workspace/workspace.js";

/** The lines a run executed, per repository-relative file (`/` separators). */
export type ExecutedLines = ReadonlyMap<string, ReadonlySet<number>>;

/** Runs one failing test with a line tracer and returns the repository lines it executed; undefined when it cannot. */
export type TestTracer = (testId: string, signal?: AbortSignal) => Promise<ExecutedLines | undefined>;

const MARK = "@@odibi-improve-trace@@";

/**
 * Runs pytest on one test id under `sys.settrace` (threads too) and prints, after a marker line, the lines executed
 * in files under the current folder, outside installed code. Module bodies (`<module>`: what importing runs) are not
 * recorded: they say nothing about the code path of the test. Frames of other files are not traced line by line, so
 * the overhead is one call event per function call.
 */
const TRACE_SCRIPT = `
import json, os, sys, threading
root = os.path.realpath(os.getcwd()) + os.sep
foreign = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep, os.sep + ".venv" + os.sep)
rels = {}
hits = {}
def tracer(frame, event, arg):
    code = frame.f_code
    if code.co_name == "<module>":
        return None
    fn = code.co_filename
    rel = rels.get(fn, 0)
    if rel == 0:
        p = os.path.realpath(fn) if fn and not fn.startswith("<") else ""
        rel = p[len(root):].replace(os.sep, "/") if p.startswith(root) and not any(f in p for f in foreign) else None
        rels[fn] = rel
    if rel is None:
        return None
    seen = hits.setdefault(rel, set())
    def local(frame, event, arg):
        if event == "line":
            seen.add(frame.f_lineno)
        return local
    seen.add(frame.f_lineno)
    return local
import pytest
threading.settrace(tracer)
sys.settrace(tracer)
try:
    pytest.main([sys.argv[1], "-q", "--no-header", "-p", "no:cacheprovider"])
finally:
    sys.settrace(None)
    threading.settrace(None)
sys.stdout.write("\\n${MARK}" + json.dumps({k: sorted(v) for k, v in hits.items() if v}) + "\\n")
sys.stdout.flush()
`;

/** The executed lines in a trace run's output (after the marker), or undefined when there is none. */
export function parseTrace(stdout: string): ExecutedLines | undefined {
  const at = stdout.lastIndexOf(MARK);
  if (at < 0) return undefined;
  try {
    const data = JSON.parse(stdout.slice(at + MARK.length).split("\n")[0]!) as Record<string, number[]>;
    return new Map(Object.entries(data).map(([f, lines]) => [f, new Set(lines)]));
  } catch {
    return undefined;
  }
}

/**
 * A tracer that runs the venv's pytest (`python -c`, in the workspace with the gates' environment `env`, hence
 * jailed like the gates) on the sandbox as it is before the model changed anything: Master's code. A run that fails
 * to produce a trace (no pytest, a crash, the time limit) gives none: the prompt then shows definitions from their
 * start, as without a trace.
 */
export function createTestTracer(workspace: Workspace, env: Record<string, string>): TestTracer {
  return async (testId, signal) => {
    // A pytest id: a Python file, then the test.
    if (!/^[^:]+\.py::/.test(testId)) return undefined;
    const r = await workspace.exec("python", ["-c", TRACE_SCRIPT, testId], {
      env,
      timeoutMs: 120_000,
      maxOutputBytes: 8 * 1024 * 1024,
      signal,
    });
    return r.aborted || r.timedOut ? undefined : parseTrace(r.stdout);
  };
}
