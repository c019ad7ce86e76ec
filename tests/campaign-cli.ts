import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect, inject } from "vitest";
import { git, statusLines } from "../src/environment/git.js";
import { takeFingerprint } from "../src/environment/sacred.js";
import { runProcess } from "../src/exec/run-process.js";
import { PACKAGE_ROOT } from "../src/pyenv/python-env.js";
import { CLI, makeGitRepo, tempDir } from "./helpers.js";

/** The real CLI binary (`npm run build` first), with the test venv and no inherited root. */
export async function cli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 300_000) {
  const r = await runProcess(process.execPath, [CLI, ...args], {
    cwd: process.cwd(),
    timeoutMs,
    env: { ODIBI_IMPROVE_ROOT: undefined, ODIBI_IMPROVE_VENV: inject("venv"), ...env },
  });
  return { code: r.exitCode, signal: r.signal, timedOut: r.timedOut, out: r.stdout, err: r.stderr };
}

/**
 * samples/demo-target (ruff-fixable lint, an unfixable failing test) as a new Sacred repository, and an environment
 * on it made by `init` with the CLI's `args` (`--profile python`): where they are and the config.yaml init wrote.
 */
export async function initDemoTarget(
  args: string[] = [],
): Promise<{ sacred: string; root: string; config: string }> {
  const base = tempDir();
  const sacred = path.join(base, "inventory");
  cpSync(path.join(PACKAGE_ROOT, "samples", "demo-target"), sacred, { recursive: true });
  await makeGitRepo(sacred, {});
  const root = path.join(base, "improve");
  expect((await cli(["init", "--source", sacred, "--root", root, ...args])).code).toBe(0);
  return { sacred, root, config: path.join(root, "config.yaml") };
}

/** The key variable of the openai-compatible provider (the key itself is only ever in the child's environment). */
/**
 * Sacred = a git repository of `files` (in `<base>/<name>`) and an initialised root with the python profile, no
 * flake reruns (the fixtures are deterministic) and an `llm:` section of `llmConfig`.
 */
export async function initPythonRoot(
  files: Record<string, string>,
  o: { name?: string; llmConfig?: string } = {},
) {
  const base = tempDir();
  const sacred = await makeGitRepo(path.join(base, o.name ?? "repo"), files);
  const root = path.join(base, "improve");
  const init = await cli(["init", "--source", sacred, "--root", root, "--profile", "python"]);
  expect(init.code, init.err).toBe(0);
  const cfg = path.join(root, "config.yaml");
  writeFileSync(
    cfg,
    `${readFileSync(cfg, "utf8").replace("gates:\n", "gates:\n  flake_reruns: 0\n")}llm:\n${o.llmConfig ?? "  max_retries: 0\n"}`,
  );
  return { base, sacred, root, master: path.join(root, "master"), fp: takeFingerprint(sacred).digest };
}

export const LLM_KEY_ENV = "OPENAI_COMPATIBLE_API_KEY";

/** `odibi-improve --root <root> run` against a scripted model server (`origin` without path), plus `extra` flags. */
export function runWithLlm(
  root: string,
  origin: string,
  model: string,
  key: string,
  extra: string[],
  env: Record<string, string> = {},
  timeoutMs?: number,
) {
  return cli(
    [
      "--root",
      root,
      "run",
      "--llm-provider",
      "openai-compatible",
      "--llm-base-url",
      `${origin}/v1`,
      "--llm-model",
      model,
      ...extra,
    ],
    { ...env, [LLM_KEY_ENV]: key },
    timeoutMs,
  );
}

/** The records of a JSON-lines file (memory, trajectories); none when it does not exist. */
// biome-ignore lint/suspicious/noExplicitAny: JSON records as written
export function jsonl(file: string): Array<Record<string, any>> {
  return existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
}

/** A tiny python repository with one ruff-fixable defect (an unused import) and a passing test. */
export const LINT_FIXTURE = {
  "pkg/__init__.py": "",
  "pkg/core.py": "import os\n\n\ndef add(a, b):\n    return a + b\n",
  "tests/test_core.py": "from pkg.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
  "pyproject.toml": '[project]\nname = "pkg"\nversion = "0.1.0"\n',
};

/**
 * The crash-safety fixture: a python repository whose one defect ruff fixes, a `--no-llm` run killed at `point`
 * (ODIBI_IMPROVE_CRASH_AT), `afterCrash` looking at what the kill left, then `run --resume` (with `resumeArgs`).
 */
export async function crashThenResume(
  point: string,
  afterCrash: (s: { root: string; master: string; before: string }) => Promise<void> = async () => {},
  resumeArgs: string[] = [],
) {
  const base = tempDir();
  const sacred = await makeGitRepo(path.join(base, "repo"), LINT_FIXTURE);
  const fp = takeFingerprint(sacred).digest;
  const root = path.join(base, "improve");
  expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
  const cfg = path.join(root, "config.yaml");
  writeFileSync(cfg, readFileSync(cfg, "utf8").replace("gates:\n", "gates:\n  flake_reruns: 0\n"));
  const master = path.join(root, "master");
  const before = (await git(master, ["rev-parse", "HEAD"])).trim();

  const crashed = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "1"], {
    ODIBI_IMPROVE_CRASH_AT: point,
  });
  expect(crashed.signal).toBe("SIGKILL");
  await afterCrash({ root, master, before });
  const resumed = await cli([
    "--root",
    root,
    "run",
    "--no-llm",
    "--resume",
    "--max-cycles",
    "2",
    "--convergence",
    "1",
    ...resumeArgs,
  ]);
  expect(resumed.err).not.toMatch(/error:/);
  expect([0, 3]).toContain(resumed.code);
  // Master is consistent: clean, and the lint fix is there exactly once (before or after the crash).
  expect(await statusLines(master)).toEqual([]);
  const commits = (await git(master, ["log", "--format=%H", `${before}..HEAD`])).trim().split("\n");
  expect(commits.filter(Boolean)).toHaveLength(1);
  expect(readFileSync(path.join(master, "pkg/core.py"), "utf8")).not.toContain("import os");
  // The promotion has exactly one "promoted" lesson; Sacred was never written.
  expect(
    jsonl(path.join(root, "memory", "lessons.jsonl")).filter((l) => l.outcome === "promoted"),
  ).toHaveLength(1);
  expect(takeFingerprint(sacred).digest).toBe(fp);
  return { root, master, before, resumed };
}
