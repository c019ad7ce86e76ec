export { isPidAlive, WriterLock } from "../environment/lock.js";
export {
  CampaignMemory,
  type CampaignMemoryOptions,
  isFailedOutcome,
  MEMORY_FILES,
} from "./campaign-memory.js";
export { appendJsonl, type JsonlRead, readJsonl } from "./jsonl.js";
export { failureSignature, normaliseCheckId, normaliseMessage, type SignatureInput } from "./signature.js";
export * from "./types.js";
