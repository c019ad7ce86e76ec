export {
  assessLiveness,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_STALE_MS,
  type LivenessOptions,
  readStatus,
  type StatusReading,
} from "./liveness.js";
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
export type * from "./types.js";
