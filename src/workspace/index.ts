export { WorkspaceError, WorkspaceFileError, WorkspacePathError } from "./errors.js";
export { LocalWorkspace } from "./local-workspace.js";
export type {
  Workspace,
  WorkspaceEntry,
  WorkspaceExecOptions,
  WorkspaceListing,
  WorkspaceMatch,
  WorkspaceSearch,
} from "./workspace.js";
