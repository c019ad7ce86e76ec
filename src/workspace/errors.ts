import { OdibiImproveError } from "../core/errors.js";

/** A refusal of a Workspace; its message is written for the model and says what to send instead. */
export class WorkspaceError extends OdibiImproveError {}

/**
 * A path outside the workspace (absolute, `..` leading out, a symlink pointing out) or inside its `.git`, in any
 * spelling.
 */
export class WorkspacePathError extends WorkspaceError {}

/**
 * A file the workspace will not read or write as text: missing, a directory, too large, binary, not a regular file,
 * already there (create), or reached through a link (write).
 */
export class WorkspaceFileError extends WorkspaceError {}
