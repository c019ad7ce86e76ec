import type { ModelMessage } from "ai";
import { errorMessage } from "../core/errors.js";
import type { GateResult, Task } from "../core/types.js";
import type { LlmClient } from "../llm/client.js";
import { LlmError } from "../llm/errors.js";
import type { LlmRunLimits } from "../llm/options.js";
import type { LlmErrorKind } from "../llm/types.js";
import type { Workspace } from "../workspace/workspace.js";
import type { Budget, BudgetExhaustion } from "./budget.js";
import { goldenEvidence } from "./golden-evidence.js";
import {
  buildUserPrompt,
  failingChecks,
  failureLines,
  type PreviousAttempt,
  SYSTEM_PROMPT,
} from "./prompts.js";
import type { ExecutedLines, TestTracer } from "./python-trace.js";
import { failureEvidence } from "./relevant-code.js";
import type { RuleDescriber } from "./rule-docs.js";
import type { SyntaxChecker } from "./syntax-check.js";
import { brainToolSet, executeTool, type GateScope, type RunGates, type ToolOutcome } from "./tools.js";
import { TrajectoryWriter } from "./trajectory.js";

export type AttemptStop =
  | "finished"
  | "step_limit"
  | "time_limit"
  /** Two answers in a row without a tool call. */
  | "no_tool_call"
  /** The same tool call with the same arguments a third time, no file written in between. */
  | "repeated_call"
  /** The attempt's tokens reached `maxAttemptTokens`. */
  | "token_limit"
  | "budget_exhausted"
  | "llm_error"
  | "stopped";

export interface AttemptReport {
  attempt: number;
  stopReason: AttemptStop;
  /** The model's finish summary, or its words when it ended by answering without tool calls. */
  summary?: string;
  steps: number;
  toolCalls: number;
  tokens: { input: number; output: number };
  costUsd?: number;
  /** Files the attempt wrote (reverted unless the attempt fixed the failures). */
  filesChanged: string[];
  /** Result of the full gate run after the attempt; undefined when it changed nothing. */
  gatesPassed?: boolean;
  /** What still failed after the attempt, one line each. */
  failures: string[];
  trajectoryFile: string;
  durationMs: number;
}

export type BrainStatus = "fixed" | "not_fixed" | "budget_exhausted" | "llm_error" | "stopped";

export interface BrainResult {
  status: BrainStatus;
  /** `BUDGET_EXHAUSTED` when the campaign must stop because its LLM budget is spent. */
  campaignStopReason?: "BUDGET_EXHAUSTED";
  /** The last full gate result (the input one when no attempt changed anything). */
  finalGateResult: GateResult;
  attemptsUsed: number;
  attempts: AttemptReport[];
  /** Spent by this call (the shared Budget holds the campaign's totals). */
  tokens: { input: number; output: number; total: number };
  /** USD spent by this call; undefined when the model is unpriced. */
  costUsd?: number;
  /** One paragraph for reports and lessons. */
  summary: string;
  /** Files changed by the kept attempt (empty unless fixed). */
  filesChanged: string[];
  error?: { kind: LlmErrorKind; message: string; hint?: string };
  budget?: BudgetExhaustion;
}

export interface ImproveSandboxOptions {
  /** The sandbox working copy: every tool reads, writes and runs through it alone. */
  workspace: Workspace;
  client: LlmClient;
  /** The failing gate result to fix. */
  gateFailures: GateResult;
  task?: Task;
  /** What memory says was tried and failed for this signature (one approach per string). */
  avoid?: string[];
  /** Lessons of similar past tasks from memory (what was tried, how it ended), one per string. */
  similar?: string[];
  goal?: string;
  /** Runs the gates on the sandbox (targeted: only `only`; full: what promotion uses). */
  runGates: RunGates;
  /** The campaign's shared budget. */
  budget: Budget;
  /** `maxAttemptTokens` unset: no per-attempt token cap. */
  limits: Pick<LlmRunLimits, "maxAttempts" | "maxSteps" | "attemptTimeoutMs"> &
    Partial<Pick<LlmRunLimits, "maxAttemptTokens">>;
  /** `<root>/trajectories/<cycle>`: one `<attempt>.jsonl` per attempt. */
  trajectoryDir: string;
  /** `<root>/golden`: a failing golden node's YAML is read there for the prompt (the sandbox does not hold it). */
  goldenDir?: string;
  /** Checks a file the model edited; the verdict goes into the edit's result. Absent: edits are not checked. */
  checkSyntax?: SyntaxChecker;
  /** One line of documentation for a lint rule, shown with its findings. Absent: the rule's code only. */
  describeRule?: RuleDescriber;
  /** Runs a failing test under a line tracer: its evidence then shows the lines it ran. Absent: no trace. */
  traceTest?: TestTracer;
  /** Whether a full gate result is good enough (the campaign's baseline/ratchet verdict). Default: nothing fails. */
  isSuccess?: (r: GateResult) => boolean;
  /** Stop request from outside. */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export function noFailures(r: GateResult): boolean {
  return failingChecks(r).length === 0 && r.runs.every((x) => !x.error);
}

const NUDGE =
  "You answered without calling a tool. Use the tools to inspect and fix the code; call finish with a summary when done. Another answer without a tool call ends this attempt.";

/** Answers in a row without a tool call that end an attempt (the first one is answered with NUDGE). */
const MAX_ANSWERS_WITHOUT_TOOLS = 2;
/** The same call with the same arguments this many times, no file written in between, ends an attempt. */
const MAX_SAME_CALL = 3;
/** The model's words kept as an attempt's summary when it stops calling tools. */
const MAX_PROSE_SUMMARY = 2000;
/** Failing tests run under the line tracer before the first prompt (each costs one run of that test). */
const MAX_TRACED_TESTS = 2;

/** A tool call's identity for repeat detection: its name and its arguments with keys sorted. */
function callKey(tool: string, input: unknown): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>)
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([k, x]) => [k, sorted(x)]),
          )
        : v;
  return `${tool} ${JSON.stringify(sorted(input)) ?? ""}`;
}

const WRITE_TOOLS = new Set(["replace_in_file", "create_file"]);

/**
 * The ImprovementBrain's tool loop (roadmap E4.1): up to `maxAttempts` fresh conversations, each bounded by steps,
 * wall time and the shared budget. After an attempt, the full gates decide; a failed attempt is reverted and its
 * outcome goes into the next attempt's prompt. What is kept still goes through the campaign's policy, gates and
 * promotion like any candidate.
 */
export async function improveSandbox(o: ImproveSandboxOptions): Promise<BrainResult> {
  const isSuccess = o.isSuccess ?? noFailures;
  const redactor = o.client.redactor;
  const tools = brainToolSet();
  const check = o.checkSyntax;
  const targets = failingChecks(o.gateFailures).map((c) => c.id);
  const priced = o.client.price !== undefined;
  const attempts: AttemptReport[] = [];
  const previous: PreviousAttempt[] = [];
  const spent = { input: 0, output: 0, cost: 0 };
  let finalGateResult = o.gateFailures;
  let status: BrainStatus = "not_fixed";
  let error: BrainResult["error"];
  let budgetStop: BudgetExhaustion | undefined;
  let kept: string[] = [];
  const log = (l: string) => o.log?.(redactor.text(l));

  const ruleDocs = new Map<string, string>();
  for (const c of failingChecks(o.gateFailures)) {
    if (c.gate !== "lint" || !c.errorType || ruleDocs.has(c.errorType) || !o.describeRule) continue;
    const doc = await o.describeRule(c.errorType, o.signal);
    if (doc) ruleDocs.set(c.errorType, doc);
  }
  // The first failing tests (those the evidence shows) run once more under a tracer, on the code before any change.
  const traces = new Map<string, ExecutedLines>();
  const traced = failingChecks(o.gateFailures).filter((c) => c.gate === "tests" && c.id.includes("::"));
  for (const c of o.traceTest ? traced.slice(0, MAX_TRACED_TESTS) : []) {
    const t = await o.traceTest!(c.id, o.signal);
    if (t) traces.set(c.id, t);
  }

  for (let attempt = 1; attempt <= o.limits.maxAttempts; attempt++) {
    budgetStop = o.budget.exhausted();
    if (budgetStop) {
      status = "budget_exhausted";
      break;
    }
    if (o.signal?.aborted) {
      status = "stopped";
      break;
    }
    const started = performance.now();
    const traj = new TrajectoryWriter(o.trajectoryDir, attempt, redactor);
    const attemptTimer = new AbortController();
    const timer = setTimeout(() => attemptTimer.abort(), o.limits.attemptTimeoutMs);
    const signal = o.signal ? AbortSignal.any([o.signal, attemptTimer.signal]) : attemptTimer.signal;
    const usage = { input: 0, output: 0, cost: 0 };
    let steps = 0;
    let toolCalls = 0;
    let stop: AttemptStop | undefined;
    let summary: string | undefined;
    // Answers without a tool call since the last call, and how often each call was made since the last write.
    let answersWithoutTools = 0;
    const prose: string[] = [];
    const callCounts = new Map<string, number>();
    const runGates = (scope: GateScope, s: AbortSignal | undefined) =>
      o.runGates({ scope, only: scope === "targeted" ? targets : [], signal: s });

    traj.write({
      type: "attempt_start",
      attempt,
      provider: o.client.settings.provider,
      model: o.client.settings.model,
      endpoint: o.client.endpoint,
      limits: o.limits,
    });
    const user = buildUserPrompt({
      task: o.task,
      gateResult: o.gateFailures,
      ...failureEvidence(o.workspace, failingChecks(o.gateFailures), ruleDocs, traces),
      goldenEvidence: o.goldenDir
        ? goldenEvidence(o.workspace, o.goldenDir, failingChecks(o.gateFailures))
        : [],
      avoid: o.avoid ?? [],
      similar: o.similar ?? [],
      goal: o.goal,
      previous,
    });
    traj.write({ type: "prompt", system: SYSTEM_PROMPT, user });
    const messages: ModelMessage[] = [{ role: "user", content: user }];
    log(
      `brain: attempt ${attempt}/${o.limits.maxAttempts} with ${o.client.settings.provider}/${o.client.settings.model}`,
    );

    try {
      while (stop === undefined) {
        if (signal.aborted) {
          stop = o.signal?.aborted ? "stopped" : "time_limit";
          break;
        }
        if (steps >= o.limits.maxSteps) {
          stop = "step_limit";
          break;
        }
        if (
          o.limits.maxAttemptTokens !== undefined &&
          usage.input + usage.output >= o.limits.maxAttemptTokens
        ) {
          stop = "token_limit";
          break;
        }
        budgetStop = o.budget.exhausted();
        if (budgetStop) {
          stop = "budget_exhausted";
          break;
        }
        steps++;
        traj.write({ type: "request", step: steps });
        let r: Awaited<ReturnType<LlmClient["step"]>>;
        try {
          r = await o.client.step({
            system: SYSTEM_PROMPT,
            messages,
            tools,
            signal,
            onRetry: (i) =>
              traj.write({
                type: "retry",
                step: steps,
                retry: i.retry,
                delayMs: i.delayMs,
                error: i.error.message,
              }),
          });
        } catch (err) {
          const e = err instanceof LlmError ? err : new LlmError("unknown", errorMessage(err));
          if (e.kind === "aborted") {
            stop = o.signal?.aborted ? "stopped" : "time_limit";
          } else {
            stop = "llm_error";
            error = { kind: e.kind, message: redactor.text(e.message), hint: e.hint };
            traj.write({ type: "error", kind: e.kind, message: e.message });
          }
          break;
        }
        o.budget.charge(r.usage, r.costUsd);
        usage.input += r.usage.inputTokens;
        usage.output += r.usage.outputTokens;
        usage.cost += r.costUsd ?? 0;
        traj.write({
          type: "response",
          step: steps,
          text: r.text,
          finishReason: r.finishReason,
          toolCalls: r.toolCalls,
          usage: r.usage,
          costUsd: r.costUsd,
          retries: r.retries,
          warnings: r.warnings.length ? r.warnings : undefined,
        });
        messages.push(...r.assistantMessages);
        if (r.toolCalls.length === 0) {
          answersWithoutTools++;
          if (r.text.trim()) prose.push(r.text.trim());
          // A model that answers in prose twice will not start using the tools: what it said is its summary.
          if (answersWithoutTools >= MAX_ANSWERS_WITHOUT_TOOLS) {
            stop = "no_tool_call";
            const words = prose.join("\n\n");
            if (words)
              summary = words.length > MAX_PROSE_SUMMARY ? `${words.slice(0, MAX_PROSE_SUMMARY)}…` : words;
            break;
          }
          messages.push({ role: "user", content: NUDGE });
          traj.write({ type: "nudge", step: steps, text: NUDGE });
          continue;
        }
        answersWithoutTools = 0;
        prose.length = 0;
        const results: Array<{
          type: "tool-result";
          toolCallId: string;
          toolName: string;
          output: { type: "text" | "error-text"; value: string };
        }> = [];
        for (const call of r.toolCalls) {
          toolCalls++;
          traj.write({
            type: "tool_call",
            step: steps,
            id: call.toolCallId,
            tool: call.toolName,
            input: call.input,
            invalid: call.invalidReason,
          });
          const key = callKey(call.toolName, call.input);
          const seen = (callCounts.get(key) ?? 0) + 1;
          callCounts.set(key, seen);
          if (seen >= MAX_SAME_CALL) {
            // Not run: the answer would be the one the model already had twice; the calls after it are dropped too.
            traj.write({
              type: "tool_result",
              step: steps,
              id: call.toolCallId,
              tool: call.toolName,
              output: `not run: ${call.toolName} with these arguments ${seen} times with no file written in between; the attempt ends`,
              isError: true,
              durationMs: 0,
            });
            stop = "repeated_call";
            break;
          }
          const t0 = performance.now();
          const out: ToolOutcome = call.invalidReason
            ? {
                output: `invalid arguments for ${call.toolName}: ${call.invalidReason}\nSend one JSON object matching the tool's parameters.`,
                isError: true,
              }
            : await executeTool(call.toolName, call.input, {
                workspace: o.workspace,
                runGates: (scope) => runGates(scope, signal),
                checkSyntax: check && ((rel) => check(o.workspace, rel, signal)),
              });
          const output = redactor.text(out.output);
          traj.write({
            type: "tool_result",
            step: steps,
            id: call.toolCallId,
            tool: call.toolName,
            output,
            isError: out.isError,
            durationMs: Math.round(performance.now() - t0),
          });
          results.push({
            type: "tool-result",
            toolCallId: call.toolCallId,
            toolName: call.toolName,
            output: { type: out.isError ? "error-text" : "text", value: output },
          });
          // A write changes what reads and gate runs see: repeating them after it is not a loop.
          if (WRITE_TOOLS.has(call.toolName) && !out.isError) {
            callCounts.clear();
            callCounts.set(key, 1);
          }
          if (out.finishSummary !== undefined) {
            summary = out.finishSummary;
            stop = "finished";
          }
        }
        messages.push({ role: "tool", content: results });
      }
    } finally {
      clearTimeout(timer);
    }

    // The gates decide, whatever ended the attempt: edits made before a step or time limit may be the fix.
    const changed = o.workspace.changedFiles();
    let gatesPassed: boolean | undefined;
    let failures = failureLines(finalGateResult);
    if (changed.length > 0 && !o.signal?.aborted) {
      try {
        const full = await runGates("full", o.signal);
        finalGateResult = full;
        gatesPassed = isSuccess(full);
        failures = failureLines(full);
      } catch (err) {
        gatesPassed = false;
        failures = [`the gates could not run: ${errorMessage(err)}`];
      }
      traj.write({ type: "gates", scope: "full", passed: gatesPassed, failures });
    }
    if (gatesPassed) {
      kept = changed;
      o.workspace.keep();
    } else {
      o.workspace.undo();
      if (changed.length > 0) finalGateResult = o.gateFailures;
    }
    const report: AttemptReport = {
      attempt,
      stopReason: stop,
      summary,
      steps,
      toolCalls,
      tokens: { input: usage.input, output: usage.output },
      costUsd: priced ? usage.cost : undefined,
      filesChanged: changed,
      gatesPassed,
      failures,
      trajectoryFile: traj.file,
      durationMs: Math.round(performance.now() - started),
    };
    attempts.push(report);
    spent.input += usage.input;
    spent.output += usage.output;
    spent.cost += usage.cost;
    traj.write({
      type: "attempt_end",
      attempt,
      stopReason: stop,
      summary,
      filesChanged: changed,
      tokens: usage.input + usage.output,
      costUsd: report.costUsd,
    });
    log(
      `brain: attempt ${attempt} ended by ${stop}${gatesPassed === undefined ? "" : gatesPassed ? ", gates pass" : ", gates fail"}`,
    );

    if (gatesPassed) {
      status = "fixed";
      break;
    }
    previous.push({ attempt, summary, filesChanged: changed, stopReason: stop, failures });
    if (stop === "llm_error") {
      // Auth and model errors will not heal, and transient ones already outlasted the retries.
      status = "llm_error";
      break;
    }
    if (stop === "budget_exhausted") {
      status = "budget_exhausted";
      break;
    }
    if (stop === "stopped") {
      status = "stopped";
      break;
    }
  }

  const result: BrainResult = {
    status,
    campaignStopReason: status === "budget_exhausted" ? "BUDGET_EXHAUSTED" : undefined,
    finalGateResult,
    attemptsUsed: attempts.length,
    attempts,
    tokens: { input: spent.input, output: spent.output, total: spent.input + spent.output },
    costUsd: priced ? spent.cost : undefined,
    summary: "",
    filesChanged: kept,
    error,
    budget: budgetStop,
  };
  result.summary = summarize(result);
  // Model text (summaries) and gate output can carry a key; the result goes into reports and lessons.
  return redactor.value(result);
}

/** Why each attempt stopped, in order: "attempts ended by no_tool_call ("<its words>"), repeated_call". */
function endedBy(attempts: AttemptReport[]): string {
  const why = attempts.map((a) => {
    const words = a.stopReason === "no_tool_call" && a.summary ? ` ("${a.summary.slice(0, 200)}")` : "";
    return `${a.stopReason}${words}`;
  });
  return `attempts ended by ${why.join(", ")}`;
}

function summarize(r: BrainResult): string {
  const spent = `${r.tokens.total} tokens${r.costUsd !== undefined ? `, $${r.costUsd.toFixed(4)}` : ""}`;
  const last = r.attempts.at(-1);
  switch (r.status) {
    case "fixed":
      return `fixed in attempt ${r.attemptsUsed} (${spent}): ${last?.summary ?? "no summary"}; changed ${r.filesChanged.join(", ")}`;
    case "budget_exhausted":
      return `stopped: ${r.budget?.message ?? "budget exhausted"} after ${r.attemptsUsed} attempt(s) (${spent})`;
    case "llm_error":
      return `stopped by an LLM error after ${r.attemptsUsed} attempt(s) (${spent}): ${r.error?.message}`;
    case "stopped":
      return `stopped on request after ${r.attemptsUsed} attempt(s) (${spent})`;
    default:
      return `not fixed after ${r.attemptsUsed} attempt(s) (${spent}); ${endedBy(r.attempts)}; still failing: ${last?.failures.slice(0, 3).join("; ") || "unknown"}`;
  }
}
