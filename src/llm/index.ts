export * from "./client.js";
export * from "./errors.js";
export * from "./options.js";
export * from "./pricing.js";
export * from "./provider-factory.js";
export * from "./providers/index.js";
export * from "./redact.js";
export * from "./types.js";
