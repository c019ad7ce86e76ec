export * from "./client.js";
export * from "./errors.js";
export * from "./options.js";
export * from "./pricing.js";
export { DEFAULT_KEY_ENV, OLLAMA_DEFAULT_BASE_URL } from "./provider-factory.js";
export * from "./redact.js";
export * from "./types.js";
