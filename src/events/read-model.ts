import { assessLiveness, type LivenessOptions, readStatus, type StatusReading } from "../status/liveness.js";
import { eventsFile, legacyImport, readEvents } from "./log.js";
import { reduceJournal, reduceStatus } from "./reducers.js";
import type { JournalEntry, LogEvent } from "./schema.js";

export interface CampaignState {
  /** Every event of the root, in order (an older root's status.json and journal.jsonl as one `imported` event). */
  events: LogEvent[];
  /** The resume journal, reduced from the events. */
  journal: JournalEntry[];
  /** The latest campaign's status with its liveness; null when no campaign has run. */
  status: StatusReading | null;
}

/**
 * The read model of a root's campaigns, for `status`, `report` and the dashboard. It never writes: a root from
 * before the event log is read through its status.json and journal.jsonl. The status is status.json (the reduced
 * status with the run's latest heartbeat) or, when a kill came between an event and that file, the reduced one.
 */
export function openCampaignState(root: string, opts: LivenessOptions = {}): CampaignState {
  let { events } = readEvents(eventsFile(root));
  if (events.length === 0) {
    const imported = legacyImport(root);
    events = imported ? [imported] : [];
  }
  const reduced = reduceStatus(events);
  const file = readStatus(root, opts);
  const fileIsCurrent =
    file &&
    (!reduced ||
      (file.status.campaign_id === reduced.campaign_id &&
        Date.parse(file.status.updated_at) >= Date.parse(reduced.updated_at)));
  const status = fileIsCurrent ? file : reduced ? assessLiveness(reduced, opts) : null;
  return { events, journal: reduceJournal(events), status };
}
