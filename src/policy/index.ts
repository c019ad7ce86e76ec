export * from "./check-policy.js";
export * from "./diff.js";
export * from "./oracle.js";
export * from "./paths.js";
export * from "./readers.js";
export { forbiddenPatterns } from "./rules/forbidden-connections.js";
export { DEFAULT_PROTECTED_PATHS } from "./rules/protected-paths.js";
export * from "./test-functions.js";
export * from "./types.js";
