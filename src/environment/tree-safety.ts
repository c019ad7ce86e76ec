import { chmodSync, type Dirent, lstatSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { OdibiImproveError } from "../core/errors.js";
import { removeRetrying } from "../core/fs-retry.js";
import { gitRaw } from "./git.js";

/** A path in a candidate tree that could make git run a program or read another repository's configuration. */
export interface UnsafeGitPath {
  /** Sandbox-relative, posix. */
  path: string;
  reason: string;
}

/**
 * A candidate tree holds a path that git must not see (a nested repository, submodule configuration, attributes
 * naming a filter, diff or merge driver). No git command runs on it: the candidate is rejected (policy rule
 * `unsafe-git-path`) and the paths are removed without following links.
 */
export class UnsafeGitTreeError extends OdibiImproveError {
  readonly paths: UnsafeGitPath[];
  constructor(root: string, paths: UnsafeGitPath[]) {
    super(
      `${root} holds path(s) git must not run on: ${paths.map((p) => `${p.path} (${p.reason})`).join("; ")}`,
      {
        hint: "The candidate is rejected and these paths are removed. Change only source files: never a .git, .gitmodules or .gitattributes.",
      },
    );
    this.paths = paths;
  }
}

/** Characters some file systems ignore in names (HFS+), so `.g\u200cit` is `.git` there. */
const IGNORED_IN_NAMES = /[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u206a-\u206f\ufeff]/g;

/**
 * A name as a case-insensitive file system may see it: no ignorable characters, no NTFS stream suffix, no
 * trailing dots or spaces (Windows drops them), lower case.
 */
export function gitSeenName(name: string): string {
  return name
    .replace(IGNORED_IN_NAMES, "")
    .split(":")[0]!
    .replace(/[. ]+$/, "")
    .toLowerCase();
}

/** True for a name that is, or on some file system would be, `.git` (also its 8.3 short name). */
export function isGitDirName(name: string): boolean {
  const n = gitSeenName(name);
  return n === ".git" || n === "git~1";
}

/** Larger `.gitattributes` and `.gitmodules` are not read (and not accepted). */
const MAX_ATTRIBUTES_BYTES = 1024 * 1024;

/** An attribute that names a driver git would run: `filter=x`, `diff=x`, `merge=x` (also in `[attr]` macros). */
export const DRIVER_ATTRIBUTE = /(^|\s)(filter|diff|merge)=/m;

/**
 * Walk a candidate tree without following links and list what git must not see: a `.git` (any case, file, folder
 * or link) anywhere but the tree's own top-level `.git` folder; a `.gitmodules`; a `.gitattributes` that is not a
 * regular file or names a driver. A `.gitmodules` or driver-naming `.gitattributes` byte-identical to the one at
 * `base` (Master's own) is allowed: git reads no configuration that defines a driver, so Master's are inert.
 */
export async function findUnsafeGitPaths(root: string, base?: string): Promise<UnsafeGitPath[]> {
  const unsafe: UnsafeGitPath[] = [];
  const compareWithBase: { path: string; content: string; reason: string }[] = [];
  try {
    if (!lstatSync(path.join(root, ".git")).isDirectory())
      unsafe.push({ path: ".git", reason: "the sandbox's .git is not a folder" });
  } catch {
    unsafe.push({ path: ".git", reason: "the sandbox's .git is missing" });
  }
  const dirs = [""];
  for (let rel = dirs.pop(); rel !== undefined; rel = dirs.pop()) {
    let entries: Dirent[];
    try {
      entries = readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      unsafe.push({ path: rel, reason: "a folder that cannot be read (what it holds cannot be checked)" });
      continue;
    }
    for (const e of entries) {
      const relPath = rel ? `${rel}/${e.name}` : e.name;
      const seen = gitSeenName(e.name);
      if (isGitDirName(e.name)) {
        if (!(rel === "" && e.name === ".git" && e.isDirectory()))
          unsafe.push({ path: relPath, reason: "a nested git repository or gitdir pointer" });
      } else if (seen === ".gitmodules") {
        if (!e.isFile()) unsafe.push({ path: relPath, reason: "submodule configuration that is not a file" });
        else if (lstatSync(path.join(root, relPath)).size > MAX_ATTRIBUTES_BYTES)
          unsafe.push({ path: relPath, reason: "submodule configuration too large to check" });
        else
          compareWithBase.push({
            path: relPath,
            content: readFileSync(path.join(root, relPath), "utf8"),
            reason: "new or changed submodule configuration",
          });
      } else if (seen === ".gitattributes") {
        if (!e.isFile()) unsafe.push({ path: relPath, reason: "git attributes that are not a regular file" });
        else if (lstatSync(path.join(root, relPath)).size > MAX_ATTRIBUTES_BYTES)
          unsafe.push({ path: relPath, reason: "git attributes too large to check" });
        else {
          const content = readFileSync(path.join(root, relPath), "utf8");
          if (DRIVER_ATTRIBUTE.test(content))
            compareWithBase.push({
              path: relPath,
              content,
              reason: "new or changed git attributes naming a filter, diff or merge driver",
            });
        }
      } else if (e.isDirectory()) dirs.push(relPath);
    }
  }
  for (const c of compareWithBase) {
    // cat-file on a blob reads the object store only: no attribute or filter is applied.
    const r = base ? await gitRaw(root, ["cat-file", "blob", `${base}:${c.path}`]) : undefined;
    if (r?.exitCode !== 0 || r.stdout !== c.content) unsafe.push({ path: c.path, reason: c.reason });
  }
  return unsafe.sort((a, b) => a.path.localeCompare(b.path));
}

/** Throws UnsafeGitTreeError when `findUnsafeGitPaths` finds anything. Call before any git command on a candidate. */
export async function assertSafeGitTree(root: string, base?: string): Promise<void> {
  const unsafe = await findUnsafeGitPaths(root, base);
  if (unsafe.length > 0) throw new UnsafeGitTreeError(root, unsafe);
}

/**
 * Remove what `findUnsafeGitPaths` finds (a link is removed, never its target; the walk only went through real
 * folders), so that git can reset the tree. Returns what was removed. The top-level `.git` is never removed.
 */
export async function removeUnsafeGitPaths(root: string, base?: string): Promise<UnsafeGitPath[]> {
  const unsafe = (await findUnsafeGitPaths(root, base)).filter((p) => p.path !== ".git" && p.path !== "");
  for (const p of unsafe) {
    const abs = path.join(root, p.path);
    // An unreadable folder is made readable first (it is a real folder: the walk saw it with lstat).
    if (lstatSync(abs, { throwIfNoEntry: false })?.isDirectory()) chmodSync(abs, 0o700);
    removeRetrying(abs);
  }
  return unsafe;
}
