export * from "./budget.js";
export { ToolUsageError } from "./file-tools.js";
export * from "./improve-sandbox.js";
export { type CreateLlmImproverOptions, createLlmImprover, focusOnTask } from "./llm-improver.js";
export {
  buildUserPrompt,
  describeCheck,
  describeFailures,
  failingChecks,
  failureLines,
  SYSTEM_PROMPT,
} from "./prompts.js";
export { createSyntaxChecker, type SyntaxChecker } from "./syntax-check.js";
export { brainToolSet, executeTool, type GateScope, MAX_TOOL_OUTPUT, type RunGates } from "./tools.js";
export { type TrajectoryEvent, TrajectoryWriter } from "./trajectory.js";
