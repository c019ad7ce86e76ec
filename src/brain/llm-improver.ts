import { lstatSync, readdirSync, realpathSync, rmdirSync } from "node:fs";
import path from "node:path";
import type { Check, GateName, GateResult, GateRun, Task } from "../core/types.js";
import type { SandboxInfo } from "../environment/environment.js";
import { git, gitRaw } from "../environment/git.js";
import { sandboxName } from "../environment/layout.js";
import { findUnsafeGitPaths, type UnsafeGitPath, UnsafeGitTreeError } from "../environment/tree-safety.js";
import type { GateCache } from "../gates/cache.js";
import type { GateContext, GateTraits } from "../gates/gate.js";
import { checkGates } from "../gates/pipeline.js";
import { decideVerdict, matchKey } from "../gates/verdict.js";
import type { LlmClient } from "../llm/client.js";
import type { LlmRunLimits } from "../llm/options.js";
import {
  checkPolicy,
  isCollectedTestFile,
  loadFileReaders,
  restoreOracle,
  violationToCheck,
} from "../policy/index.js";
import { unsafeGitViolations } from "../policy/violation.js";
import type { Budget } from "./budget.js";
import { type BrainResult, improveSandbox } from "./improve-sandbox.js";
import { createTestTracer } from "./python-trace.js";
import { createRuleDescriber } from "./rule-docs.js";
import { createSyntaxChecker } from "./syntax-check.js";

/** An LLM approach for the campaign (src/campaign/runner.ts), plugged in by the CLI when an LLM is configured. */
export interface LlmImprover {
  name: string;
  /** The campaign's LLM budget: its limits are a stop condition; a resumed campaign carries its spending into it. */
  budget: Budget;
  improve(args: {
    sandbox: SandboxInfo;
    task: Task;
    baseline: GateResult;
    ctx: GateContext;
    avoid: string[];
    /** Lessons of similar past tasks (other signatures): what was tried and how it ended, one per string. */
    similar?: string[];
    goal?: string;
    cycle: number;
    signal: AbortSignal;
    /** The campaign's gate cache: the model's full runs go into it, and the verdict after `finish` reuses them. */
    cache?: GateCache;
    /** The gate run that ends an attempt (`improveSandbox`'s `finalScope`; targeted under batch verification). */
    finalScope?: "targeted" | "full";
  }): Promise<{
    summary: string;
    tokens: number;
    costUsd?: number;
    trajectories: string[];
    /** The files the model wrote (only these become the candidate; gate outputs are not). */
    filesChanged?: string[];
    /** Nothing kept because the model could not be used (auth, 5xx after the retries …): the lesson is an error. */
    error?: string;
    /** Nothing kept because the gates rejected what the attempts changed: the lesson is a rejection by `gate`. */
    rejected?: { gate?: string; reason: string };
    /** Oracle paths put back to Master's before the model's own gate runs (it changed them, or its code wrote them). */
    oracleRestored?: string[];
  }>;
}

export interface CreateLlmImproverOptions {
  client: LlmClient;
  /** The campaign's shared budget. */
  budget: Budget;
  limits: LlmRunLimits;
  /** `<root>/trajectories`; each cycle writes into `cycle_NNN/`. */
  trajectoriesDir: string;
  log?: (line: string) => void;
}

/**
 * The failures the brain is asked to fix: only the task's target check when Master's result has it (Master's other
 * known failures would pull the model everywhere), else all of Master's failures.
 */
export function focusOnTask(baseline: GateResult, task: Task): GateResult {
  // A test-adding task fixes nothing: Master's failures are not its business.
  if (task.kind === "coverage") return { ...baseline, runs: [] };
  const isTarget = (id: string) => id === task.target;
  if (!baseline.runs.some((r) => r.checks.some((c) => c.status === "fail" && isTarget(c.id))))
    return baseline;
  return {
    ...baseline,
    runs: baseline.runs
      .map((r) => ({ ...r, error: undefined, checks: r.checks.filter((c) => isTarget(c.id)) }))
      .filter((r) => r.checks.length > 0),
  };
}

/** A failing policy run naming each path git must not see (rule `unsafe-git-path`). */
function unsafeRun(paths: UnsafeGitPath[]): GateRun {
  return { gate: "policy", checks: unsafeGitViolations(paths).map(violationToCheck), durationMs: 0 };
}

/** Paths that differ from `base` in the work tree: changed tracked files and untracked (not ignored) files. */
async function changedPaths(dir: string, base: string): Promise<Set<string>> {
  const tracked = await git(dir, ["diff", "--name-only", "-z", base, "--"]);
  const untracked = await git(dir, ["ls-files", "-z", "--others", "--exclude-standard"]);
  return new Set(`${tracked}\0${untracked}`.split("\0").filter(Boolean));
}

/**
 * The files the model wrote that still exist or that `base` has (a deletion): a new oracle file the model created
 * was removed by restoreOracle, and the candidate is made from the rest.
 */
async function stillChanged(dir: string, base: string, files: string[]): Promise<string[]> {
  if (files.length === 0) return files;
  const inBase = new Set(
    (await git(dir, ["--literal-pathspecs", "ls-tree", "-r", "-z", "--name-only", base, "--", ...files]))
      .split("\0")
      .filter(Boolean),
  );
  // A path git ignores that the model wrote stays listed even when the clean before a gate run removed it: the
  // campaign rejects such a candidate (policy rule ignored-path), whatever became of the file.
  const ignored = await gitRaw(dir, ["check-ignore", "-z", "--stdin"], {
    input: `${files.join("\0")}\0`,
  });
  if (ignored.exitCode !== 0 && ignored.exitCode !== 1)
    throw new Error(`git check-ignore failed in ${dir}: ${ignored.stderr.trim()}`);
  const isIgnored = new Set(ignored.exitCode === 0 ? ignored.stdout.split("\0").filter(Boolean) : []);
  return files.filter((f) => inBase.has(f) || isIgnored.has(f) || lexists(path.join(dir, f)));
}

function lexists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Undo what earlier gate runs wrote (`outputs`: restored from `base`, or removed with the folders they leave
 * empty) and remove ignored files (caches, bytecode): each run sees the model's change alone, the tree the campaign
 * gates after `finish`, so that the campaign can reuse the model's run of it. Through git (which never deletes
 * beyond a symbolic link); a folder is removed only when empty and inside the sandbox.
 */
async function dropGateOutputs(dir: string, base: string, outputs: ReadonlySet<string>): Promise<void> {
  const list = [...outputs];
  if (list.length > 0) {
    const inBase = new Set(
      (await git(dir, ["--literal-pathspecs", "ls-tree", "-r", "-z", "--name-only", base, "--", ...list]))
        .split("\0")
        .filter(Boolean),
    );
    const tracked = list.filter((f) => inBase.has(f));
    const untracked = list.filter((f) => !inBase.has(f));
    if (tracked.length > 0) await git(dir, ["--literal-pathspecs", "checkout", base, "--", ...tracked]);
    if (untracked.length > 0)
      await git(dir, ["--literal-pathspecs", "clean", "-q", "-ff", "--", ...untracked]);
    const root = realpathSync(dir);
    const parents = new Set(
      untracked.flatMap((f) =>
        f
          .split("/")
          .slice(0, -1)
          .map((_, i, a) => a.slice(0, i + 1).join("/")),
      ),
    );
    for (const d of [...parents].sort((a, b) => b.length - a.length)) {
      const abs = path.join(dir, d);
      try {
        if (!realpathSync(abs).startsWith(root + path.sep) || readdirSync(abs).length > 0) continue;
        rmdirSync(abs);
      } catch {
        // gone already, or not a folder
      }
    }
  }
  await git(dir, ["clean", "-q", "-ffdX"]);
}

/**
 * The policy gate on what the model changed: the sandbox's diff against its base (untracked files included),
 * leaving out what earlier gate runs wrote (test data, catalogs: the campaign's candidate leaves them out too). The
 * index is put back afterwards: an intent-to-add entry for a file a reverted attempt created would look like a change.
 * `addTestsOnly`: a test-adding task (policy rule tests-only).
 */
async function policyOn(
  sandbox: SandboxInfo,
  base: string,
  gateOutputs: Set<string>,
  addTestsOnly: boolean,
  newTestsAllowed: boolean,
) {
  await git(sandbox.path, ["add", "-A", "-N"]);
  try {
    const exclude = [...gateOutputs].map((f) => `:(exclude,literal)${f}`);
    const diff = await git(sandbox.path, [
      "diff",
      "--no-color",
      "--no-ext-diff",
      "--no-textconv",
      "--binary",
      base,
      "--",
      ".",
      ...exclude,
    ]);
    const readers = await loadFileReaders(sandbox.path, base, diff);
    return {
      diff,
      policy: (d: string, c: Parameters<typeof checkPolicy>[1]) =>
        checkPolicy(d, c, readers, { addTestsOnly, newTestsAllowed }),
    };
  } finally {
    await git(sandbox.path, ["reset", "-q"]);
  }
}

/**
 * The failing checks of a run the change did not cause, with why: Master fails them too (the target excepted), or
 * they fail for want of a dependency the environment lacks (missing-dependency.ts). Policy failures are always the
 * change's.
 */
export function notCausedByChange(
  baseline: GateResult,
  target: Task | undefined,
  missing: ((c: Check) => string | undefined) | undefined,
  gates: readonly GateTraits[],
): (r: GateResult) => Map<Check, string> {
  const onMaster = new Set(
    baseline.runs.flatMap((r) => r.checks.filter((c) => c.status === "fail").map((c) => matchKey(c, gates))),
  );
  return (r) => {
    const out = new Map<Check, string>();
    for (const c of r.runs.flatMap((x) => x.checks)) {
      if (c.status !== "fail" || c.gate === "policy" || c.id === target?.target) continue;
      const needs = missing?.(c);
      const why = [
        needs ? `needs ${needs}, which this environment lacks` : undefined,
        onMaster.has(matchKey(c, gates)) ? "fails on Master too" : undefined,
      ].filter(Boolean);
      if (why.length > 0) out.set(c, why.join("; "));
    }
    return out;
  };
}

/** The gates' names as failure lines start with them (src/gates, src/profiles/odibi, the policy). */
const GATE_NAMES: ReadonlySet<string> = new Set<GateName>(["policy", "lint", "validate", "tests", "golden"]);

/**
 * Why the campaign gets nothing to promote, for its lesson: an LLM error, or the gates' rejection of the last
 * attempt that changed files (with the failing gate: a policy rule shows as gate "policy"). Undefined otherwise.
 */
export function whyNothingKept(r: BrainResult): {
  error?: string;
  rejected?: { gate?: string; reason: string };
} {
  if (r.status === "fixed") return {};
  if (r.status === "llm_error")
    return { error: r.error?.hint ? `${r.error.message} (${r.error.hint})` : r.error?.message };
  const last = r.attempts.findLast((a) => a.filesChanged.length > 0 && a.gatesPassed === false);
  if (!last) return {};
  // A policy violation names the rule broken, which matters more than what it broke downstream: it goes first.
  const isPolicy = (f: string) => f.startsWith("policy ");
  const failures = [...new Set(last.failures)].sort((a, b) => Number(isPolicy(b)) - Number(isPolicy(a)));
  // A failure line starts with its gate's name ("tests tests/x.py::t: …"); other lines ("the gates could not run: …")
  // name no gate.
  const word = /^(?:- \[)?([a-z]+)/.exec(failures[0] ?? "")?.[1];
  const gate = word !== undefined && GATE_NAMES.has(word) ? word : undefined;
  return {
    rejected: {
      gate,
      reason: `the gates rejected attempt ${last.attempt} (changed ${last.filesChanged.join(", ")}): ${failures.slice(0, 4).join("; ") || "no failure recorded"}`,
    },
  };
}

/**
 * For a test-adding task: a new test of the attempt failing in its own gate run failed on Master's code (the task
 * changes no code), which is the campaign's first assured filter (`passes`, src/campaign/assure-tests.ts): the
 * rejection is named so. Any other rejection is left as it is.
 */
export function asTestFilter(why: ReturnType<typeof whyNothingKept>): ReturnType<typeof whyNothingKept> {
  const m = /^the gates rejected attempt \d+ \(changed (.*?)\): tests ([^\s:]+)::/.exec(
    why.rejected?.reason ?? "",
  );
  if (!m || why.rejected?.gate !== "tests" || !m[1]!.split(", ").includes(m[2]!)) return why;
  return {
    rejected: {
      gate: "test-filter:passes",
      reason: `test filter passes: ${m[2]} fails on Master's code: ${why.rejected.reason}`,
    },
  };
}

/**
 * The brain as the campaign's LLM approach (`CampaignOptions.llm`): gates through the pipeline (targeted = the
 * target first, stopping at the first real failure; full = everything), success by the same baseline/ratchet
 * verdict promotion uses, the policy gate first (so the model hears of a weakened test, and the lesson names the rule).
 * The campaign still re-gates the kept change before promoting it.
 */
export function createLlmImprover(o: CreateLlmImproverOptions): LlmImprover {
  return {
    name: `${o.client.settings.provider}/${o.client.settings.model}`,
    budget: o.budget,
    async improve({ sandbox, task, baseline, ctx, avoid, similar, goal, cycle, signal, cache, finalScope }) {
      const mode = ctx.config.gates.mode;
      const target = task.kind === "failure" ? task : undefined;
      // Gates run code the model wrote: they must not see the API key (undefined unsets it in the child).
      const unset = Object.fromEntries(o.client.secretEnvNames.map((n) => [n, undefined]));
      const gateCtx = { ...ctx, env: { ...ctx.env, ...unset } as Record<string, string> };
      const base = sandbox.baseCommit || "HEAD";
      const oracle = ctx.profile.oracle;
      // A test-adding task's new test files are its change: the restore keeps them, the policy allows only them.
      const addTestsOnly = task.kind === "coverage";
      const newTestsAllowed = task.kind === "feature";
      const keepNew = addTestsOnly || newTestsAllowed ? isCollectedTestFile : undefined;
      const oracleRestored = new Set<string>();
      // Files the gates wrote during this call: not the model's change, kept out of the policy's diff.
      const gateOutputs = new Set<string>();
      const tracer = createTestTracer(ctx.workspace, gateCtx.env);
      const notCaused = notCausedByChange(
        baseline,
        target,
        ctx.profile.missingDependencies?.(sandbox.path),
        ctx.profile.gates,
      );
      const r = await improveSandbox({
        workspace: ctx.workspace,
        client: o.client,
        budget: o.budget,
        limits: o.limits,
        gateFailures: focusOnTask(baseline, task),
        task,
        avoid,
        similar,
        goal,
        goldenDir: ctx.goldenDir,
        runGates: async ({ scope, signal: s }) => {
          // No git command on a tree holding what git must not see (the candidate's code, run by earlier gates,
          // may have planted it): the candidate fails the policy (rule unsafe-git-path), nothing else runs.
          const unsafe = await findUnsafeGitPaths(sandbox.path, base);
          if (unsafe.length > 0)
            return {
              treeHash: "",
              runs: [unsafeRun(unsafe)],
              startedAt: new Date().toISOString(),
              durationMs: 0,
            };
          await dropGateOutputs(sandbox.path, base, gateOutputs);
          const before = await changedPaths(sandbox.path, base);
          const policy = await policyOn(sandbox, base, gateOutputs, addTestsOnly, newTestsAllowed);
          // The model's own gate runs judge with Master's oracle too: its changes to tests and checker
          // configuration are undone here (the policy, on the diff taken above, tells it why).
          const restore = async () => {
            for (const p of await restoreOracle(sandbox.path, base, oracle, keepNew)) oracleRestored.add(p);
          };
          let result: GateResult;
          try {
            // Targeted: the target and the tests touching the change; full: everything, cached by the tree as
            // gated (the campaign's verdict after finish reuses it when the tree is the same).
            result = await checkGates(
              { ...gateCtx, signal: s ?? signal },
              {
                baseline,
                target,
                mode,
                failFast: scope === "targeted",
                targetedOnly: scope === "targeted",
                changedFiles: [...before].filter((f) => !gateOutputs.has(f)),
                cache,
                ...policy,
                beforeRun: restore,
              },
            );
            // What the last run's code wrote over the oracle is put back (and reported) now: the next run starts
            // by removing gate outputs, and the campaign may reuse this run without running anything.
            await restore();
          } catch (e) {
            // Planted by the candidate's code during a gate run, found by the walk before the next restore.
            if (!(e instanceof UnsafeGitTreeError)) throw e;
            return {
              treeHash: "",
              runs: [unsafeRun(e.paths)],
              startedAt: new Date().toISOString(),
              durationMs: 0,
            };
          }
          const planted = await findUnsafeGitPaths(sandbox.path, base);
          if (planted.length > 0) return { ...result, runs: [...result.runs, unsafeRun(planted)] };
          for (const f of await changedPaths(sandbox.path, base)) if (!before.has(f)) gateOutputs.add(f);
          return { ...result, notCaused: notCaused(result) };
        },
        // In the sandbox's workspace (jailed like the gates) with their environment (the venv's python on PATH).
        checkSyntax: createSyntaxChecker({ env: gateCtx.env }),
        describeRule: createRuleDescriber(ctx.workspace, gateCtx.env),
        // A failing pytest test's code path, traced in the gates' jail and environment; what the run wrote
        // (a conftest's test data, caches) is removed as after a gate run, so it never looks like the model's.
        traceTest: async (testId, s) => {
          const before = await changedPaths(sandbox.path, base);
          try {
            return await tracer(testId, s);
          } finally {
            const wrote = [...(await changedPaths(sandbox.path, base))].filter((f) => !before.has(f));
            await dropGateOutputs(sandbox.path, base, new Set(wrote));
          }
        },
        isSuccess: (candidate) => {
          const v = decideVerdict(baseline, candidate, { gates: ctx.profile.gates, target, mode });
          // Targeted only: the gates that did not run are the promotion queue's to run.
          if (finalScope !== "targeted") return v.promotable;
          return (
            v.newFailures.length === 0 && v.targetFixed !== false && candidate.runs.every((r) => !r.error)
          );
        },
        ...(finalScope ? { finalScope } : {}),
        trajectoryDir: path.join(o.trajectoriesDir, sandboxName(cycle)),
        signal,
        log: o.log,
      });
      return {
        summary: r.summary,
        tokens: r.tokens.total,
        costUsd: r.costUsd,
        trajectories: r.attempts.map((a) => a.trajectoryFile),
        filesChanged: await stillChanged(sandbox.path, base, r.filesChanged),
        ...(oracleRestored.size ? { oracleRestored: [...oracleRestored].sort() } : {}),
        ...(task.kind === "coverage" ? asTestFilter(whyNothingKept(r)) : whyNothingKept(r)),
      };
    },
  };
}
