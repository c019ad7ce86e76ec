export * from "./command.js";
export * from "./context.js";
export * from "./gate-env.js";
export * from "./golden-gate.js";
export * from "./golden-projects.js";
export * from "./golden-run-config.js";
export * from "./prepare.js";
export * from "./validate-gate.js";
