export * from "./profiles.js";
