export * from "./load.js";
export * from "./required-gates.js";
export * from "./schema.js";
