import { lstatSync, readFileSync } from "node:fs";
import path from "node:path";
import { gitRaw } from "../environment/git.js";
import { isInside } from "../environment/sacred.js";
import { parseGitDiff } from "./diff.js";
import type { ChangedFile, FileReaders } from "./types.js";

/** Files larger than this are not loaded (the rules fall back to the diff for them). */
const MAX_FILE_BYTES = 2 * 1024 * 1024;

/**
 * Load the base (from git, at `baseCommit`) and current (from the work tree) content of every text file the diff
 * touches, so the pure rules can read whole files. The current side never follows a symlink: a candidate's link
 * to a file outside the sandbox must not be read on its behalf.
 */
export async function loadFileReaders(
  workdir: string,
  baseCommit: string,
  diff: string | ChangedFile[],
): Promise<FileReaders> {
  const files = typeof diff === "string" ? parseGitDiff(diff) : diff;
  const base = new Map<string, string>();
  const current = new Map<string, string>();
  const root = path.resolve(workdir);
  for (const f of files) {
    if (f.binary) continue;
    if (f.status !== "added") {
      const r = await gitRaw(workdir, ["show", `${baseCommit}:${f.oldPath}`]);
      if (r.exitCode === 0 && r.stdoutBytes <= MAX_FILE_BYTES) base.set(f.oldPath, r.stdout);
    }
    if (f.status !== "deleted") {
      const abs = path.resolve(root, f.path);
      if (!isInside(abs, root)) continue;
      try {
        const st = lstatSync(abs);
        if (st.isFile() && st.size <= MAX_FILE_BYTES) current.set(f.path, readFileSync(abs, "utf8"));
      } catch {
        // gone since the diff was taken: leave it to the diff
      }
    }
  }
  const listed = await gitRaw(workdir, ["ls-tree", "-r", "-z", "--name-only", baseCommit]);
  const baseFiles = listed.exitCode === 0 ? listed.stdout.split("\0").filter(Boolean) : undefined;
  return { base: (p) => base.get(p), current: (p) => current.get(p), baseFiles };
}

/** Readers over in-memory contents (tests, or callers that already hold the files). */
export function readersFromMaps(
  base: Record<string, string>,
  current: Record<string, string>,
  baseFiles?: readonly string[],
): FileReaders {
  return { base: (p) => base[p], current: (p) => current[p], baseFiles };
}
