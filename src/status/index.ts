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
