export * from "./story-parser.js";
export * from "./story-schema.js";
