export * from "./analyze.js";
export * from "./report.js";
export * from "./usage-analyzer.js";
export * from "./usage-types.js";
