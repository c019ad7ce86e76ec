import { runProcess } from "../../exec/run-process.js";
import type { Workspace } from "../../workspace/workspace.js";

/**
 * Mutants of a Python module (issue 13, "tests that earn their place"): small, plausible bugs the tool makes in the
 * target of a test-adding task, to show that a new test checks something. A test that fails on none of them asserts
 * nothing that matters. Made with Python's `ast` (`MUTANTS_PY`), so only real syntax is mutated:
 *
 * - `flipped-comparison`: `<` ↔ `>=`, `>` ↔ `<=`, `==` ↔ `!=`, `is` ↔ `is not`, `in` ↔ `not in`;
 * - `off-by-one`: an integer literal `k` → `k + 1`, a bound `<` ↔ `<=`, `>` ↔ `>=`;
 * - `dropped-null-check`: an `if x is None:` (or `== None`, `is not None`) guard removed, the other path always taken;
 * - `swapped-arguments`: a call's first two positional arguments swapped.
 *
 * Only sites on the given lines are mutated (the lines the new test is meant to cover), at most `max` mutants,
 * taken in turn from each kind so that every kind is tried. A mutant that does not compile, or that unparses to
 * the original program (swapping two equal arguments), is left out.
 */

export const MUTATION_KINDS = [
  "flipped-comparison",
  "off-by-one",
  "dropped-null-check",
  "swapped-arguments",
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

export interface Mutant {
  kind: MutationKind;
  /** The mutated site's line in the original source. */
  line: number;
  /** What was changed, in words (`< → >=`, `42 → 43`, …). */
  description: string;
}

export interface GeneratedMutant extends Mutant {
  /** The whole mutated module (`ast.unparse`: comments and formatting are not kept). */
  source: string;
}

export interface MutantRun extends Mutant {
  /** The tests failed (or errored, or timed out) on this mutant. */
  killed: boolean;
}

const MARK = "@@odibi-improve-mutants@@";

/**
 * `python -c MUTANTS_PY generate <lines-json> <max>`: the source on stdin, the mutants as JSON after the marker.
 * `python -c MUTANTS_PY run <file> <lines-json> <max> <timeout-s> <test>…`: each mutant written over `file` in turn,
 * pytest run on the tests in a fresh interpreter (bytecode kept out of the tree and never reused), the original bytes
 * put back after each; the mutants with `killed` as JSON after the marker.
 */
export const MUTANTS_PY = String.raw`
import ast, json, os, subprocess, sys, tempfile

MARK = "${MARK}"
FLIP = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq,
        ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
BOUND = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
SYM = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
       ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
KINDS = ["flipped-comparison", "off-by-one", "dropped-null-check", "swapped-arguments"]

def none_check(test):
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    right = test.comparators[0]
    if not (isinstance(right, ast.Constant) and right.value is None):
        return None
    op = type(test.ops[0])
    return "is None" if op in (ast.Is, ast.Eq) else "is not None" if op in (ast.IsNot, ast.NotEq) else None

def sites(tree, lines):
    out = []
    for i, node in enumerate(ast.walk(tree)):
        line = getattr(node, "lineno", None)
        if line is None or (lines and line not in lines):
            continue
        if isinstance(node, ast.Compare):
            for j, op in enumerate(node.ops):
                t = type(op)
                if t in FLIP:
                    out.append(("flipped-comparison", i, j, line, SYM[t] + " -> " + SYM[FLIP[t]]))
                if t in BOUND:
                    out.append(("off-by-one", i, j, line, SYM[t] + " -> " + SYM[BOUND[t]]))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            out.append(("off-by-one", i, -1, line, "%d -> %d" % (node.value, node.value + 1)))
        elif isinstance(node, ast.If) and none_check(node.test):
            out.append(("dropped-null-check", i, -1, line, "guard 'if ... %s' removed" % none_check(node.test)))
        elif isinstance(node, ast.Call) and len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args[:2]):
            if ast.dump(node.args[0]) != ast.dump(node.args[1]):
                out.append(("swapped-arguments", i, -1, line, "%s <-> %s" % (ast.unparse(node.args[0]), ast.unparse(node.args[1]))))
    return out

class DropGuard(ast.NodeTransformer):
    def __init__(self, target):
        self.target = target
    def visit_If(self, node):
        self.generic_visit(node)
        if node is not self.target:
            return node
        return list(node.orelse) if none_check(node.test) == "is None" else list(node.body)

def fill_empty(tree):
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if field == "body" and isinstance(block, list) and not block:
                block.append(ast.Pass())

def mutate(source, site):
    kind, index, j, line, desc = site
    tree = ast.parse(source)
    node = list(ast.walk(tree))[index]
    if kind == "flipped-comparison":
        node.ops[j] = FLIP[type(node.ops[j])]()
    elif kind == "off-by-one" and j >= 0:
        node.ops[j] = BOUND[type(node.ops[j])]()
    elif kind == "off-by-one":
        node.value = node.value + 1
    elif kind == "dropped-null-check":
        tree = DropGuard(node).visit(tree)
        fill_empty(tree)
    else:
        node.args[0], node.args[1] = node.args[1], node.args[0]
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)

def generate(source, lines, limit):
    original = ast.unparse(ast.parse(source))
    by_kind = {k: [] for k in KINDS}
    for s in sites(ast.parse(source), lines):
        by_kind[s[0]].append(s)
    for k in KINDS:
        by_kind[k].sort(key=lambda s: (s[3], s[1], s[2]))
    out = []
    while len(out) < limit and any(by_kind.values()):
        for k in KINDS:
            if len(out) >= limit or not by_kind[k]:
                continue
            s = by_kind[k].pop(0)
            try:
                m = mutate(source, s)
                compile(m, "<mutant>", "exec")
            except (SyntaxError, ValueError, TypeError):
                continue
            if m != original:
                out.append({"kind": k, "line": s[3], "description": s[4], "source": m})
    return out

def run_tests(tests, timeout):
    env = dict(os.environ)
    env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="mutant-pyc-")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "--no-header", "-p", "no:cacheprovider", *tests],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=timeout)
        return r.returncode != 0 and r.returncode != 5
    except subprocess.TimeoutExpired:
        return True

def main():
    mode = sys.argv[1]
    if mode == "generate":
        lines = set(json.loads(sys.argv[2]))
        out = generate(sys.stdin.read(), lines, int(sys.argv[3]))
    else:
        path, lines, limit, timeout, tests = sys.argv[2], set(json.loads(sys.argv[3])), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6:]
        with open(path, "rb") as f:
            original = f.read()
        out = []
        try:
            for m in generate(original.decode("utf-8"), lines, limit):
                with open(path, "w", encoding="utf-8") as f:
                    f.write(m.pop("source"))
                try:
                    m["killed"] = run_tests(tests, timeout)
                finally:
                    with open(path, "wb") as f:
                        f.write(original)
                out.append(m)
        finally:
            with open(path, "wb") as f:
                f.write(original)
    sys.stdout.write("\n" + MARK + json.dumps(out) + "\n")

main()
`;

function parseOutput<T>(stdout: string, stderr: string, what: string): T {
  const at = stdout.lastIndexOf(MARK);
  if (at < 0) throw new Error(`${what} printed no result: ${(stderr || stdout).trim().slice(-1500)}`);
  return JSON.parse(stdout.slice(at + MARK.length).split("\n")[0]!) as T;
}

export interface MutantOptions {
  /** The lines whose sites may be mutated; empty: every line. */
  lines?: readonly number[];
  /** At most this many mutants (default 4: one of each kind when the lines have them). */
  max?: number;
}

const DEFAULT_MAX = 4;

/**
 * The mutants of `source` (nothing is run: `ast` only parses), with the interpreter `python` (the gates' venv's).
 * Throws when Python cannot parse the source.
 */
export async function generateMutants(
  python: string,
  source: string,
  opts: MutantOptions = {},
): Promise<GeneratedMutant[]> {
  const r = await runProcess(
    python,
    ["-c", MUTANTS_PY, "generate", JSON.stringify(opts.lines ?? []), String(opts.max ?? DEFAULT_MAX)],
    { cwd: process.cwd(), input: source, timeoutMs: 60_000, maxOutputBytes: 16 * 1024 * 1024 },
  );
  return parseOutput<GeneratedMutant[]>(r.stdout, r.stderr, "the mutant generator");
}

export interface KillOptions extends MutantOptions {
  /** The module to mutate (tree-relative). */
  target: string;
  /** The test files to run on each mutant (tree-relative). */
  tests: readonly string[];
  /** The gates' environment (`python` on PATH is the venv's). */
  env: Record<string, string>;
  /** Per pytest run on a mutant (default 60 s); a run that takes longer counts as killed. */
  testTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Each mutant of `target` written over it in turn and `tests` run on it, in the workspace (jailed like the gates);
 * the original bytes are put back after each mutant and at the end. Which mutants the tests killed.
 */
export async function killMutants(workspace: Workspace, o: KillOptions): Promise<MutantRun[]> {
  const max = o.max ?? DEFAULT_MAX;
  const perRun = (o.testTimeoutMs ?? 60_000) / 1000;
  const r = await workspace.exec(
    "python",
    [
      "-c",
      MUTANTS_PY,
      "run",
      o.target,
      JSON.stringify(o.lines ?? []),
      String(max),
      String(perRun),
      ...o.tests,
    ],
    {
      env: o.env,
      timeoutMs: Math.ceil((max + 1) * perRun * 1000 + 30_000),
      maxOutputBytes: 4 * 1024 * 1024,
      ...(o.signal ? { signal: o.signal } : {}),
    },
  );
  return parseOutput<MutantRun[]>(r.stdout, r.stderr, "the mutant run");
}
