import { lstatSync, realpathSync } from "node:fs";
import path from "node:path";
import { isInside } from "../core/paths.js";
import { isGitDirName } from "../environment/tree-safety.js";
import { WorkspacePathError } from "./errors.js";

const WIN_ABSOLUTE = /^([a-zA-Z]:|[\\/]{2})/;

/** The nearest existing ancestor (lstat, so a dangling symlink counts as existing). */
function nearestExisting(p: string): string {
  let cur = p;
  for (;;) {
    try {
      lstatSync(cur);
      return cur;
    } catch {
      const up = path.dirname(cur);
      if (up === cur) return cur;
      cur = up;
    }
  }
}

/**
 * Resolve a path the model gave, relative to the sandbox root, to a real absolute path inside the sandbox.
 * A `.git` segment (any case or spelling git or a file system would take for `.git`) is refused anywhere, in the
 * path as given and as resolved. Symlinks are resolved with realpath (for a path that does not exist yet: its nearest existing ancestor), so a
 * link inside the sandbox that points outside is refused like `../../etc/passwd` is.
 */
export function resolveInSandbox(rootReal: string, requested: string): { abs: string; rel: string } {
  const shown = JSON.stringify(requested);
  const hint = "Use a path relative to the sandbox root, e.g. src/module.py (list_dir shows what exists).";
  if (requested.includes("\0"))
    throw new WorkspacePathError(`refused ${shown}: the path contains a NUL byte. ${hint}`);
  if (path.isAbsolute(requested) || WIN_ABSOLUTE.test(requested)) {
    throw new WorkspacePathError(
      `refused ${shown}: absolute paths are not allowed, only paths inside the sandbox. ${hint}`,
    );
  }
  const lexical = path.resolve(rootReal, requested || ".");
  if (!isInside(lexical, rootReal)) {
    throw new WorkspacePathError(`refused ${shown}: it leads outside the sandbox (through ".."). ${hint}`);
  }
  const gitRefusal = new WorkspacePathError(
    `refused ${shown}: the .git folder is off limits (so is any .git, in any spelling, at any depth); edit only the working tree. ${hint}`,
  );
  if (path.relative(rootReal, lexical).split(path.sep).some(isGitDirName)) throw gitRefusal;
  const existing = nearestExisting(lexical);
  let real: string;
  try {
    real = realpathSync(existing);
  } catch {
    throw new WorkspacePathError(
      `refused ${shown}: ${path.relative(rootReal, existing)} is a broken symlink. ${hint}`,
    );
  }
  if (!isInside(real, rootReal)) {
    throw new WorkspacePathError(
      `refused ${shown}: ${path.relative(rootReal, existing) || "it"} is a symlink that points outside the sandbox. ${hint}`,
    );
  }
  const abs = existing === lexical ? real : path.join(real, path.relative(existing, lexical));
  const rel = path.relative(rootReal, abs);
  if (rel.split(path.sep).some(isGitDirName)) throw gitRefusal; // reached through a link
  return { abs, rel: rel.split(path.sep).join("/") || "." };
}
