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
  buildTestPrompt,
  buildUserPrompt,
  failingChecks,
  failureLines,
  type PreviousAttempt,
  SYSTEM_PROMPT,
  TEST_SYSTEM_PROMPT,
} from "./prompts.js";
import type { ExecutedLines, TestTracer } from "./python-trace.js";
import { failureEvidence } from "./relevant-code.js";
import type { RuleDescriber } from "./rule-docs.js";
import type { SyntaxChecker } from "./syntax-check.js";
import { testTaskEvidence } from "./test-evidence.js";
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
  /**
   * The gate run that judges an attempt at its end: full (default), or targeted when the campaign verifies the
   * full suite later, in batches (its promotion queue).
   */
  finalScope?: GateScope;
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
  const run = await startRun(o);
  for (let attempt = 1; attempt <= o.limits.maxAttempts; attempt++) {
    run.budgetStop = o.budget.exhausted();
    if (run.budgetStop) {
      run.status = "budget_exhausted";
      break;
    }
    if (o.signal?.aborted) {
      run.status = "stopped";
      break;
    }
    const a = await converse(run, attempt);
    const report = await judgeAttempt(run, a);
    const end = statusAfter(report);
    if (end) {
      run.status = end;
      break;
    }
    run.previous.push({
      attempt,
      summary: report.summary,
      filesChanged: report.filesChanged,
      stopReason: report.stopReason,
      failures: report.failures,
    });
  }
  return brainResult(run);
}

/** One call's state across its attempts. */
interface BrainRun {
  o: ImproveSandboxOptions;
  /** The system prompt: a test-adding task (kind `coverage`) has its own. */
  system: string;
  isSuccess: (r: GateResult) => boolean;
  redactor: LlmClient["redactor"];
  tools: ReturnType<typeof brainToolSet>;
  /** The failing checks' ids: what a targeted gate run checks. */
  targets: string[];
  priced: boolean;
  /** Documentation of the failing lint rules, and the lines the first failing tests ran (evidence for the prompt). */
  ruleDocs: Map<string, string>;
  traces: Map<string, ExecutedLines>;
  attempts: AttemptReport[];
  previous: PreviousAttempt[];
  spent: { input: number; output: number; cost: number };
  finalGateResult: GateResult;
  status: BrainStatus;
  error?: BrainResult["error"];
  budgetStop?: BudgetExhaustion;
  kept: string[];
  log: (line: string) => void;
}

/** One attempt's conversation. */
interface AttemptState {
  attempt: number;
  started: number;
  traj: TrajectoryWriter;
  /** The call's stop request and the attempt's time limit. */
  signal: AbortSignal;
  timer: AbortController;
  messages: ModelMessage[];
  usage: { input: number; output: number; cost: number };
  steps: number;
  toolCalls: number;
  stop?: AttemptStop;
  summary?: string;
  /** Answers without a tool call since the last call, what they said, and how often each call was made since the last write. */
  answersWithoutTools: number;
  prose: string[];
  callCounts: Map<string, number>;
}

async function startRun(o: ImproveSandboxOptions): Promise<BrainRun> {
  const redactor = o.client.redactor;
  return {
    o,
    system: o.task?.kind === "coverage" ? TEST_SYSTEM_PROMPT : SYSTEM_PROMPT,
    isSuccess: o.isSuccess ?? noFailures,
    redactor,
    tools: brainToolSet(),
    targets: failingChecks(o.gateFailures).map((c) => c.id),
    priced: o.client.price !== undefined,
    ruleDocs: await lintRuleDocs(o),
    traces: await traceFailingTests(o),
    attempts: [],
    previous: [],
    spent: { input: 0, output: 0, cost: 0 },
    finalGateResult: o.gateFailures,
    status: "not_fixed",
    kept: [],
    log: (l: string) => o.log?.(redactor.text(l)),
  };
}

async function lintRuleDocs(o: ImproveSandboxOptions): Promise<Map<string, string>> {
  const ruleDocs = new Map<string, string>();
  for (const c of failingChecks(o.gateFailures)) {
    if (c.gate !== "lint" || !c.errorType || ruleDocs.has(c.errorType) || !o.describeRule) continue;
    const doc = await o.describeRule(c.errorType, o.signal);
    if (doc) ruleDocs.set(c.errorType, doc);
  }
  return ruleDocs;
}

/** The first failing tests (those the evidence shows) run once more under a tracer, on the code before any change. */
async function traceFailingTests(o: ImproveSandboxOptions): Promise<Map<string, ExecutedLines>> {
  const traces = new Map<string, ExecutedLines>();
  const traced = failingChecks(o.gateFailures).filter((c) => c.gate === "tests" && c.id.includes("::"));
  for (const c of o.traceTest ? traced.slice(0, MAX_TRACED_TESTS) : []) {
    const t = await o.traceTest!(c.id, o.signal);
    if (t) traces.set(c.id, t);
  }
  return traces;
}

function gatesOn(run: BrainRun, scope: GateScope, signal: AbortSignal | undefined): Promise<GateResult> {
  return run.o.runGates({ scope, only: scope === "targeted" ? run.targets : [], signal });
}

/** One attempt: a fresh conversation with the first prompt, model steps until something ends it. */
async function converse(run: BrainRun, attempt: number): Promise<AttemptState> {
  const o = run.o;
  const a = startAttempt(run, attempt);
  const timer = setTimeout(() => a.timer.abort(), o.limits.attemptTimeoutMs);
  try {
    while (a.stop === undefined) await modelStep(run, a);
  } finally {
    clearTimeout(timer);
  }
  return a;
}

function startAttempt(run: BrainRun, attempt: number): AttemptState {
  const o = run.o;
  const traj = new TrajectoryWriter(o.trajectoryDir, attempt, run.redactor);
  const timer = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, timer.signal]) : timer.signal;
  traj.write({
    type: "attempt_start",
    attempt,
    provider: o.client.settings.provider,
    model: o.client.settings.model,
    endpoint: o.client.endpoint,
    limits: o.limits,
  });
  const user = firstPrompt(run);
  traj.write({ type: "prompt", system: run.system, user });
  run.log(
    `brain: attempt ${attempt}/${o.limits.maxAttempts} with ${o.client.settings.provider}/${o.client.settings.model}`,
  );
  return {
    attempt,
    started: performance.now(),
    traj,
    signal,
    timer,
    messages: [{ role: "user", content: user }],
    usage: { input: 0, output: 0, cost: 0 },
    steps: 0,
    toolCalls: 0,
    answersWithoutTools: 0,
    prose: [],
    callCounts: new Map(),
  };
}

/** The attempt's first user message: the failures and their evidence, or for a test-adding task its target. */
function firstPrompt(run: BrainRun): string {
  const o = run.o;
  const common = { avoid: o.avoid ?? [], similar: o.similar ?? [], goal: o.goal, previous: run.previous };
  if (o.task?.kind === "coverage")
    return buildTestPrompt({ task: o.task, evidence: testTaskEvidence(o.workspace, o.task), ...common });
  return buildUserPrompt({
    task: o.task,
    gateResult: o.gateFailures,
    ...failureEvidence(o.workspace, failingChecks(o.gateFailures), run.ruleDocs, run.traces),
    goldenEvidence: o.goldenDir
      ? goldenEvidence(o.workspace, o.goldenDir, failingChecks(o.gateFailures))
      : [],
    ...common,
  });
}

/** What ends the attempt before its next step: a stop, the time, step or token limit, the budget. */
function limitReached(run: BrainRun, a: AttemptState): AttemptStop | undefined {
  const { o } = run;
  if (a.signal.aborted) return o.signal?.aborted ? "stopped" : "time_limit";
  if (a.steps >= o.limits.maxSteps) return "step_limit";
  if (o.limits.maxAttemptTokens !== undefined && a.usage.input + a.usage.output >= o.limits.maxAttemptTokens)
    return "token_limit";
  run.budgetStop = o.budget.exhausted();
  if (run.budgetStop) return "budget_exhausted";
  return undefined;
}

/** One request to the model and what follows from its answer: a nudge, or its tool calls run. */
async function modelStep(run: BrainRun, a: AttemptState): Promise<void> {
  a.stop = limitReached(run, a);
  if (a.stop) return;
  a.steps++;
  a.traj.write({ type: "request", step: a.steps });
  const r = await askModel(run, a);
  if (!r) return;
  run.o.budget.charge(r.usage, r.costUsd);
  a.usage.input += r.usage.inputTokens;
  a.usage.output += r.usage.outputTokens;
  a.usage.cost += r.costUsd ?? 0;
  a.traj.write({
    type: "response",
    step: a.steps,
    text: r.text,
    finishReason: r.finishReason,
    toolCalls: r.toolCalls,
    usage: r.usage,
    costUsd: r.costUsd,
    retries: r.retries,
    warnings: r.warnings.length ? r.warnings : undefined,
  });
  a.messages.push(...r.assistantMessages);
  if (r.toolCalls.length === 0) return answeredInProse(a, r.text);
  a.answersWithoutTools = 0;
  a.prose.length = 0;
  const results: ToolResultPart[] = [];
  for (const call of r.toolCalls) {
    const result = await toolCall(run, a, call);
    if (!result) break;
    results.push(result);
  }
  a.messages.push({ role: "tool", content: results });
}

type StepResult = Awaited<ReturnType<LlmClient["step"]>>;

/** The model's answer; undefined when the request failed (the attempt then ends: stopped, time limit, LLM error). */
async function askModel(run: BrainRun, a: AttemptState): Promise<StepResult | undefined> {
  try {
    return await run.o.client.step({
      system: run.system,
      messages: a.messages,
      tools: run.tools,
      signal: a.signal,
      onRetry: (i) =>
        a.traj.write({
          type: "retry",
          step: a.steps,
          retry: i.retry,
          delayMs: i.delayMs,
          error: i.error.message,
        }),
    });
  } catch (err) {
    const e = err instanceof LlmError ? err : new LlmError("unknown", errorMessage(err));
    if (e.kind === "aborted") {
      a.stop = run.o.signal?.aborted ? "stopped" : "time_limit";
    } else {
      a.stop = "llm_error";
      run.error = { kind: e.kind, message: run.redactor.text(e.message), hint: e.hint };
      a.traj.write({ type: "error", kind: e.kind, message: e.message });
    }
    return undefined;
  }
}

/** An answer without a tool call is nudged once; a model that answers in prose twice will not start using the tools: what it said is its summary. */
function answeredInProse(a: AttemptState, text: string): void {
  a.answersWithoutTools++;
  if (text.trim()) a.prose.push(text.trim());
  if (a.answersWithoutTools >= MAX_ANSWERS_WITHOUT_TOOLS) {
    a.stop = "no_tool_call";
    const words = a.prose.join("\n\n");
    if (words) a.summary = words.length > MAX_PROSE_SUMMARY ? `${words.slice(0, MAX_PROSE_SUMMARY)}…` : words;
    return;
  }
  a.messages.push({ role: "user", content: NUDGE });
  a.traj.write({ type: "nudge", step: a.steps, text: NUDGE });
}

interface ToolResultPart {
  type: "tool-result";
  toolCallId: string;
  toolName: string;
  output: { type: "text" | "error-text"; value: string };
}

/**
 * Runs one tool call; its result for the model. The same call a third time with no file written in between is not
 * run (the answer would be the one the model already had twice): the attempt ends, undefined is returned and the
 * calls after it are dropped.
 */
async function toolCall(
  run: BrainRun,
  a: AttemptState,
  call: StepResult["toolCalls"][number],
): Promise<ToolResultPart | undefined> {
  a.toolCalls++;
  const base = { step: a.steps, id: call.toolCallId, tool: call.toolName };
  a.traj.write({ type: "tool_call", ...base, input: call.input, invalid: call.invalidReason });
  const key = callKey(call.toolName, call.input);
  const seen = (a.callCounts.get(key) ?? 0) + 1;
  a.callCounts.set(key, seen);
  if (seen >= MAX_SAME_CALL) {
    a.traj.write({
      type: "tool_result",
      ...base,
      output: `not run: ${call.toolName} with these arguments ${seen} times with no file written in between; the attempt ends`,
      isError: true,
      durationMs: 0,
    });
    a.stop = "repeated_call";
    return undefined;
  }
  const t0 = performance.now();
  const out = await executeCall(run, a, call);
  const output = run.redactor.text(out.output);
  a.traj.write({
    type: "tool_result",
    ...base,
    output,
    isError: out.isError,
    durationMs: Math.round(performance.now() - t0),
  });
  // A write changes what reads and gate runs see: repeating them after it is not a loop.
  if (WRITE_TOOLS.has(call.toolName) && !out.isError) {
    a.callCounts.clear();
    a.callCounts.set(key, 1);
  }
  if (out.finishSummary !== undefined) {
    a.summary = out.finishSummary;
    a.stop = "finished";
  }
  const type = out.isError ? ("error-text" as const) : ("text" as const);
  return {
    type: "tool-result",
    toolCallId: call.toolCallId,
    toolName: call.toolName,
    output: { type, value: output },
  };
}

function executeCall(
  run: BrainRun,
  a: AttemptState,
  call: StepResult["toolCalls"][number],
): Promise<ToolOutcome> {
  const o = run.o;
  const check = o.checkSyntax;
  if (call.invalidReason)
    return Promise.resolve({
      output: `invalid arguments for ${call.toolName}: ${call.invalidReason}\nSend one JSON object matching the tool's parameters.`,
      isError: true,
    });
  return executeTool(call.toolName, call.input, {
    workspace: o.workspace,
    runGates: (scope) => gatesOn(run, scope, a.signal),
    checkSyntax: check && ((rel) => check(o.workspace, rel, a.signal)),
  });
}

/**
 * The gates decide, whatever ended the attempt: edits made before a step or time limit may be the fix. A passing
 * attempt's files are kept, a failing one's undone. The attempt's report.
 */
async function judgeAttempt(run: BrainRun, a: AttemptState): Promise<AttemptReport> {
  const { o } = run;
  const changed = o.workspace.changedFiles();
  let gatesPassed: boolean | undefined;
  let failures = failureLines(run.finalGateResult);
  if (changed.length > 0 && !o.signal?.aborted) {
    try {
      const full = await gatesOn(run, o.finalScope ?? "full", o.signal);
      run.finalGateResult = full;
      gatesPassed = run.isSuccess(full);
      failures = failureLines(full);
    } catch (err) {
      gatesPassed = false;
      failures = [`the gates could not run: ${errorMessage(err)}`];
    }
    a.traj.write({ type: "gates", scope: o.finalScope ?? "full", passed: gatesPassed, failures });
  }
  if (gatesPassed) {
    run.kept = changed;
    o.workspace.keep();
  } else {
    o.workspace.undo();
    if (changed.length > 0) run.finalGateResult = o.gateFailures;
  }
  return recordAttempt(run, a, changed, gatesPassed, failures);
}

function recordAttempt(
  run: BrainRun,
  a: AttemptState,
  changed: string[],
  gatesPassed: boolean | undefined,
  failures: string[],
): AttemptReport {
  const { attempt, summary, usage } = a;
  const stop = a.stop!;
  const report: AttemptReport = {
    attempt,
    stopReason: stop,
    summary,
    steps: a.steps,
    toolCalls: a.toolCalls,
    tokens: { input: usage.input, output: usage.output },
    costUsd: run.priced ? usage.cost : undefined,
    filesChanged: changed,
    gatesPassed,
    failures,
    trajectoryFile: a.traj.file,
    durationMs: Math.round(performance.now() - a.started),
  };
  run.attempts.push(report);
  run.spent.input += usage.input;
  run.spent.output += usage.output;
  run.spent.cost += usage.cost;
  a.traj.write({
    type: "attempt_end",
    attempt,
    stopReason: stop,
    summary,
    filesChanged: changed,
    tokens: usage.input + usage.output,
    costUsd: report.costUsd,
  });
  run.log(
    `brain: attempt ${attempt} ended by ${stop}${gatesPassed === undefined ? "" : gatesPassed ? ", gates pass" : ", gates fail"}`,
  );
  return report;
}

/** The call's status when this attempt ends it; undefined to go on with the next attempt. */
function statusAfter(report: AttemptReport): BrainStatus | undefined {
  if (report.gatesPassed) return "fixed";
  // Auth and model errors will not heal, and transient ones already outlasted the retries.
  if (report.stopReason === "llm_error") return "llm_error";
  if (report.stopReason === "budget_exhausted") return "budget_exhausted";
  if (report.stopReason === "stopped") return "stopped";
  return undefined;
}

function brainResult(run: BrainRun): BrainResult {
  const { status, spent } = run;
  const result: BrainResult = {
    status,
    finalGateResult: run.finalGateResult,
    attemptsUsed: run.attempts.length,
    attempts: run.attempts,
    tokens: { input: spent.input, output: spent.output, total: spent.input + spent.output },
    costUsd: run.priced ? spent.cost : undefined,
    summary: "",
    filesChanged: run.kept,
    error: run.error,
    budget: run.budgetStop,
  };
  result.summary = summarize(result);
  // Model text (summaries) and gate output can carry a key; the result goes into reports and lessons.
  return run.redactor.value(result);
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
