export * from "./oracle-paths.js";
export * from "./profiles.js";
