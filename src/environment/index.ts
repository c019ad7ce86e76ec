export * from "./environment.js";
export * from "./fs-safe.js";
export * from "./git.js";
export * from "./layout.js";
export * from "./lock.js";
export * from "./node-deps.js";
export * from "./sacred.js";
export * from "./staged-install.js";
