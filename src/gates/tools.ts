import path from "node:path";
import type { Check } from "../core/types.js";
import { parseCargoTest, parseClippyJson } from "./parsers/cargo.js";
import { capDetail, type ParseContext } from "./parsers/common.js";
import { parseGoTestJson, parseGoVet } from "./parsers/go.js";
import { parseBiomeJson, parseEslintJson } from "./parsers/js-lint.js";
import { parseJUnitXml } from "./parsers/junit.js";
import { nodeTestDisagreements, withNodeFileOutput } from "./parsers/node-test-output.js";
import { parsePytestCollected, parsePytestSummary, pytestDisagreements } from "./parsers/pytest-summary.js";
import { parseRuffFormatCheck, parseRuffJson, ruffFormatSummaryCount } from "./parsers/ruff.js";

/**
 * What the gates know about each tool: how to force machine-readable output, how to run a subset, which exit
 * codes mean "the tool worked" (results complete), how to ask its version (for the cache key) and how to parse
 * what it wrote. Recognised from the configured command line, so a user's own flags are kept.
 */
export interface ToolOutput {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  /** Content of the report file the tool was told to write, when it wrote one. */
  report?: string;
}

export interface PrepareInput {
  /** Folder for report files. */
  outputDir: string;
  /** A unique stem for this run's report file. */
  runId: string;
  /** Check ids to run (re-runs, targets). Only for tools with `selects`. */
  only?: string[];
  /** Test files / packages to run. Only for tools with `selects`. */
  files?: string[];
  /** pytest-xdist's worker count (`-n`), for a suite found to give the same results in parallel. */
  workers?: string;
}

export interface PreparedCommand {
  argv: string[];
  reportFile?: string;
}

export interface ToolAdapter {
  tool: string;
  matches(argv: readonly string[]): boolean;
  prepare(argv: readonly string[], p: PrepareInput): PreparedCommand;
  parse(out: ToolOutput, ctx: ParseContext): Check[];
  /** Exit codes after which the results are complete (others: the tool itself failed). */
  okExit(code: number | null): boolean;
  versionArgv(argv: readonly string[]): string[];
  /** Can run a subset of its checks by id / file. */
  selects: boolean;
  /**
   * A separate run that only counts the tests the real run should have run (the independent channel of
   * `disagreements`): the same selection, in a fresh process.
   */
  collectArgv?(argv: readonly string[], p: PrepareInput): string[];
  /**
   * Where the run's own channels disagree (report vs terminal summary vs the separate count): one sentence each.
   * Any disagreement makes the run a failing `report-inconsistent` check.
   */
  disagreements?(out: ToolOutput, checks: readonly Check[], collectStdout: string | undefined): string[];
}

const base = (s: string) =>
  path
    .basename(s)
    .replace(/\.(exe|cmd|bat)$/i, "")
    .toLowerCase();

/** Index of the token naming the tool (`python -m pytest` → 2, `pytest` → 0). */
function toolIndex(argv: readonly string[], names: string[]): number {
  return argv.findIndex((a) => names.includes(base(a)));
}

/** Drop `--flag value` / `--flag=value` occurrences (the gate sets its own). */
function withoutFlag(argv: readonly string[], flags: string[], takesValue = true): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (flags.includes(a)) {
      if (takesValue) i++;
      continue;
    }
    if (flags.some((f) => a.startsWith(`${f}=`))) continue;
    out.push(a);
  }
  return out;
}

const exitIn =
  (...codes: number[]) =>
  (code: number | null) =>
    code !== null && codes.includes(code);

function reportPath(p: PrepareInput, ext: string): string {
  return path.join(p.outputDir, `${p.runId}.${ext}`);
}

/** Last, so it wins over `-q`/`-v` in the command and in addopts: the summary and count lines are then printed. */
const PYTEST_VERBOSITY = "--verbosity=-1";

/**
 * `python -m pytest …` runs as `python -c <this> …`: pytest imported from the environment with the tree's folder
 * taken off `sys.path` for that import (a candidate's `pytest.py` cannot stand in for pytest; the folder is put
 * back for the tests), pytest itself, then an exit that skips the interpreter's exit handlers (`atexit`,
 * finalizers), so code under test cannot rewrite the report or the exit code after pytest wrote them. (The output
 * is flushed first: `os._exit` does not.) A `pytest` executable is run as it is.
 */
export const PYTEST_WITHOUT_EXIT_HANDLERS = [
  "import os, sys",
  "head = sys.path[:1] if sys.path[:1] in ([''], [os.getcwd()]) else []",
  "del sys.path[:len(head)]",
  "import pytest",
  "sys.path[:0] = head",
  "rc = pytest.main(sys.argv[1:])",
  "sys.stdout.flush()",
  "sys.stderr.flush()",
  "os._exit(int(rc))",
].join("; ");

function withoutExitHandlers(argv: readonly string[]): string[] {
  const i = toolIndex(argv, ["pytest"]);
  if (i < 2 || argv[i - 1] !== "-m") return [...argv];
  return [...argv.slice(0, i - 1), "-c", PYTEST_WITHOUT_EXIT_HANDLERS, ...argv.slice(i + 1)];
}

export const pytest: ToolAdapter = {
  tool: "pytest",
  matches: (argv) => toolIndex(argv, ["pytest", "py.test"]) >= 0,
  prepare(argv, p) {
    const reportFile = reportPath(p, "junit.xml");
    const args = withoutExitHandlers(withoutFlag(argv, ["--junitxml", "--junit-xml"]));
    args.push(
      PYTEST_VERBOSITY,
      // A run stopped at the first failures (`-x`, `--maxfail` in the command or addopts) is an incomplete result.
      "--maxfail=0",
      `--junitxml=${reportFile}`,
      // xunit1 carries each test's file and line.
      "-o",
      "junit_family=xunit1",
      // One broken module must not hide the rest of the suite (the baseline needs every test's outcome).
      "--continue-on-collection-errors",
      // Keep the tree unchanged (the cache is keyed by its hash).
      "-p",
      "no:cacheprovider",
      ...(p.workers ? ["-n", p.workers] : []),
    );
    args.push(...(p.files ?? []), ...(p.only ?? []));
    return { argv: args, reportFile };
  },
  parse: (out, ctx) => (out.report === undefined ? [] : parseJUnitXml(out.report, "pytest", ctx)),
  // 0 all passed, 1 some failed; 2 interrupted, 3 internal error, 4 usage error, 5 no tests: the run is incomplete.
  okExit: exitIn(0, 1),
  versionArgv: (argv) => [...argv.slice(0, toolIndex(argv, ["pytest", "py.test"]) + 1), "--version"],
  selects: true,
  // The gates run on the candidate with Master's oracle (tests, conftest, pytest configuration) restored over it,
  // so this collection counts Master's tests, in a process the run's code under test does not share.
  collectArgv: (argv, p) => [
    ...withoutExitHandlers(withoutFlag(argv, ["--junitxml", "--junit-xml"])),
    "--collect-only",
    PYTEST_VERBOSITY,
    "--continue-on-collection-errors",
    "-p",
    "no:cacheprovider",
    ...(p.files ?? []),
    ...(p.only ?? []),
  ],
  disagreements: (out, checks, collectStdout) =>
    pytestDisagreements(
      checks,
      parsePytestSummary(out.stdout),
      collectStdout === undefined ? undefined : parsePytestCollected(collectStdout),
    ),
};

export const ruff: ToolAdapter = {
  tool: "ruff",
  matches: (argv) => toolIndex(argv, ["ruff"]) >= 0 && argv.includes("check"),
  prepare(argv) {
    return { argv: [...withoutFlag(argv, ["--output-format", "--format"]), "--output-format", "json"] };
  },
  parse: (out, ctx) => parseRuffJson(out.stdout, ctx),
  okExit: exitIn(0, 1),
  versionArgv: (argv) => [...argv.slice(0, toolIndex(argv, ["ruff"]) + 1), "--version"],
  selects: false,
};

/**
 * `ruff format --check`: exit 0 (formatted), 1 (files to reformat), 2 (a file it could not parse: a check of its
 * own; an exit 2 with no such check is inconsistent, never a pass).
 */
export const ruffFormat: ToolAdapter = {
  tool: "ruff-format",
  matches: (argv) => {
    const i = toolIndex(argv, ["ruff"]);
    return i >= 0 && argv[i + 1] === "format" && argv.includes("--check");
  },
  prepare: (argv) => ({ argv: [...argv] }),
  parse: (out, ctx) => parseRuffFormatCheck(`${out.stdout}\n${out.stderr}`, ctx),
  okExit: exitIn(0, 1, 2),
  versionArgv: (argv) => [...argv.slice(0, toolIndex(argv, ["ruff"]) + 1), "--version"],
  selects: false,
  disagreements: (out, checks) => {
    const said = ruffFormatSummaryCount(`${out.stdout}\n${out.stderr}`);
    const found = checks.filter((c) => c.errorType === "format").length;
    return said !== undefined && said !== found
      ? [`ruff format said ${said} file(s) would be reformatted but listed ${found}`]
      : [];
  },
};

/** Top-level test names of go check ids (`example.com/m/pkg.TestA/sub`) and their packages. */
function goSelection(only: readonly string[]): { pkgs: string[]; tests: string[] } {
  const pkgs = new Set<string>();
  const tests = new Set<string>();
  for (const id of only) {
    const m = /^(.*)\.(Test[^/]*|Example[^/]*|Fuzz[^/]*)(?:\/.*)?$/.exec(id);
    if (m) {
      pkgs.add(m[1]!);
      tests.add(m[2]!);
    } else pkgs.add(id);
  }
  return { pkgs: [...pkgs], tests: [...tests] };
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export const goTest: ToolAdapter = {
  tool: "go-test",
  matches: (argv) => base(argv[0] ?? "") === "go" && argv[1] === "test",
  prepare(argv, p) {
    let args = [...argv];
    if (!args.includes("-json")) args.splice(2, 0, "-json");
    const only = p.only ?? [];
    const files = p.files ?? [];
    if (only.length > 0 || files.length > 0) {
      // Replace package patterns (./...) by the selected packages.
      args = args.filter((a, i) => i < 2 || a.startsWith("-"));
      const sel = goSelection(only);
      if (sel.tests.length > 0 && files.length === 0)
        args.push("-run", `^(${sel.tests.map(escapeRe).join("|")})$`);
      args.push(...sel.pkgs, ...files);
    }
    return { argv: args };
  },
  parse: (out, ctx) => parseGoTestJson(out.stdout, ctx),
  okExit: exitIn(0, 1),
  versionArgv: (argv) => [argv[0]!, "version"],
  selects: true,
};

export const goVet: ToolAdapter = {
  tool: "go-vet",
  matches: (argv) => base(argv[0] ?? "") === "go" && argv[1] === "vet",
  prepare: (argv) => ({ argv: [...argv] }),
  parse: (out, ctx) => parseGoVet(out.stderr, ctx),
  okExit: exitIn(0, 1),
  versionArgv: (argv) => [argv[0]!, "version"],
  selects: false,
};

export const nodeTest: ToolAdapter = {
  tool: "node-test",
  matches: (argv) => base(argv[0] ?? "") === "node" && argv.includes("--test"),
  prepare(argv, p) {
    const reportFile = reportPath(p, "junit.xml");
    const args = withoutFlag(argv, ["--test-reporter", "--test-reporter-destination"]);
    args.splice(
      args.indexOf("--test") + 1,
      0,
      "--test-reporter=junit",
      `--test-reporter-destination=${reportFile}`,
      // TAP on stdout too: it carries a failing file's own output, which the JUnit report leaves out.
      "--test-reporter=tap",
      "--test-reporter-destination=stdout",
    );
    const names = (p.only ?? []).filter((id) => !id.includes("/"));
    const files = [...(p.files ?? []), ...(p.only ?? []).filter((id) => id.includes("/"))];
    for (const n of names) args.push(`--test-name-pattern=^${escapeRe(n.split(" > ").at(-1)!)}$`);
    args.push(...files);
    return { argv: args, reportFile };
  },
  parse: (out, ctx) =>
    out.report === undefined
      ? []
      : withNodeFileOutput(parseJUnitXml(out.report, "node", ctx), out.stdout, ctx),
  okExit: exitIn(0, 1),
  versionArgv: (argv) => [argv[0]!, "--version"],
  selects: true,
  disagreements: (out, checks) => nodeTestDisagreements(out.stdout, checks),
};

export const vitest: ToolAdapter = {
  tool: "vitest",
  matches: (argv) => toolIndex(argv, ["vitest"]) >= 0,
  prepare(argv, p) {
    const reportFile = reportPath(p, "junit.xml");
    const i = toolIndex(argv, ["vitest"]);
    const args = withoutFlag(argv, ["--reporter", "--outputFile"]);
    // Without `run`, vitest watches forever.
    if (args[i + 1] !== "run") args.splice(i + 1, 0, "run");
    args.push("--reporter=junit", `--outputFile=${reportFile}`);
    args.push(...(p.files ?? []), ...(p.only ?? []).map((id) => id.split("::")[0]!));
    return { argv: args, reportFile };
  },
  parse: (out, ctx) => (out.report === undefined ? [] : parseJUnitXml(out.report, "vitest", ctx)),
  okExit: exitIn(0, 1),
  versionArgv: (argv) => [...argv.slice(0, toolIndex(argv, ["vitest"]) + 1), "--version"],
  selects: true,
};

export const biome: ToolAdapter = {
  tool: "biome",
  matches: (argv) => toolIndex(argv, ["biome"]) >= 0,
  prepare: (argv) => ({ argv: [...withoutFlag(argv, ["--reporter"]), "--reporter=json"] }),
  parse: (out, ctx) => parseBiomeJson(out.stdout, ctx),
  okExit: exitIn(0, 1),
  versionArgv: (argv) => [...argv.slice(0, toolIndex(argv, ["biome"]) + 1), "--version"],
  selects: false,
};

export const eslint: ToolAdapter = {
  tool: "eslint",
  matches: (argv) => toolIndex(argv, ["eslint"]) >= 0,
  prepare: (argv) => ({ argv: [...withoutFlag(argv, ["-f", "--format"]), "--format", "json"] }),
  parse: (out, ctx) => parseEslintJson(out.stdout, ctx),
  okExit: exitIn(0, 1),
  versionArgv: (argv) => [...argv.slice(0, toolIndex(argv, ["eslint"]) + 1), "--version"],
  selects: false,
};

export const clippy: ToolAdapter = {
  tool: "clippy",
  matches: (argv) => base(argv[0] ?? "") === "cargo" && argv[1] === "clippy",
  prepare: (argv) => ({ argv: [...withoutFlag(argv, ["--message-format"]), "--message-format=json"] }),
  parse: (out, ctx) => parseClippyJson(out.stdout, ctx),
  okExit: exitIn(0, 101),
  versionArgv: (argv) => [argv[0]!, "clippy", "--version"],
  selects: false,
};

export const cargoTest: ToolAdapter = {
  tool: "cargo-test",
  matches: (argv) => base(argv[0] ?? "") === "cargo" && argv[1] === "test",
  prepare: (argv) => ({ argv: [...argv] }),
  parse: (out, ctx) => parseCargoTest(out.stdout, out.stderr, ctx),
  okExit: exitIn(0, 101),
  versionArgv: (argv) => [argv[0]!, "--version"],
  selects: false,
};

/** Any other command: one check, passing when the command exits 0, failing with its output's tail otherwise. */
export const exitCodeOnly: ToolAdapter = {
  tool: "command",
  matches: () => true,
  prepare: (argv) => ({ argv: [...argv] }),
  parse: (out, ctx) => [
    out.exitCode === 0
      ? { gate: ctx.gate, id: "command", status: "pass" }
      : {
          gate: ctx.gate,
          id: "command",
          status: "fail",
          errorType: "CommandFailed",
          message: `exit ${out.exitCode}`,
          detail: capDetail(`${out.stdout}\n${out.stderr}`.trim().split("\n").slice(-40).join("\n")),
        },
  ],
  okExit: (code) => code !== null,
  versionArgv: (argv) => [argv[0]!, "--version"],
  selects: false,
};

export const TOOL_ADAPTERS: readonly ToolAdapter[] = [
  pytest,
  ruffFormat,
  ruff,
  goTest,
  goVet,
  nodeTest,
  vitest,
  biome,
  eslint,
  clippy,
  cargoTest,
];

export function adapterFor(argv: readonly string[]): ToolAdapter {
  return TOOL_ADAPTERS.find((a) => a.matches(argv)) ?? exitCodeOnly;
}
