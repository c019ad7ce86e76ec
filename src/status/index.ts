export { capText, escapeInline, fenced } from "./markdown.js";
export {
  failureCount,
  flakyChecks,
  parseShortStat,
  passCount,
  regressions,
  summariseGates,
} from "./metrics.js";
export { markdownForTerminal, writeReport } from "./report-files.js";
export {
  campaignReportName,
  cycleReportName,
  DIFF_MAX_CHARS,
  DIFF_MAX_LINES,
  renderCampaignReport,
  renderCycleReport,
} from "./reports.js";
export * from "./schema.js";
export {
  assessLiveness,
  type CycleOutcome,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_STALE_MS,
  type LivenessOptions,
  readStatus,
  type StatusReading,
  StatusTracker,
  type StatusTrackerOptions,
} from "./status-tracker.js";
export type * from "./types.js";
