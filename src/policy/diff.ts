import { parsePatch } from "diff";
import type { ChangedFile, ChangeStatus, DiffHunk, DiffLine } from "./types.js";

/**
 * Parse git's `diff --binary` output (what `ImprovementEnvironment.sandboxDiff` returns) into changed files.
 * The `diff` package parses each file's headers and hunks; binary-ness and file modes are read from git's extended
 * header lines, which it does not report for binary patches.
 */
export function parseGitDiff(text: string): ChangedFile[] {
  const normalised = text.replace(/\r\n/g, "\n");
  const starts: number[] = [];
  const re = /^diff --git /gm;
  for (let m = re.exec(normalised); m; m = re.exec(normalised)) starts.push(m.index);
  const files: ChangedFile[] = [];
  for (let i = 0; i < starts.length; i++) {
    const chunk = normalised.slice(starts[i], starts[i + 1] ?? normalised.length);
    files.push(parseFileChunk(chunk));
  }
  return files;
}

function stripPrefix(name: string | undefined): string | undefined {
  if (name === undefined || name === "/dev/null") return undefined;
  return name.replace(/^[ab]\//, "");
}

function headerValue(chunk: string, key: string): string | undefined {
  const m = new RegExp(`^${key} (.*)$`, "m").exec(chunk.split(/^@@/m)[0] ?? "");
  return m?.[1]?.trim();
}

/** `diff --git a/x b/x` when the names are equal (the only unambiguous case with spaces). */
function pathFromGitLine(chunk: string): string | undefined {
  const first = chunk.slice(
    "diff --git ".length,
    chunk.indexOf("\n") === -1 ? undefined : chunk.indexOf("\n"),
  );
  const half = (first.length - 1) / 2;
  if (Number.isInteger(half)) {
    const a = first.slice(0, half);
    const b = first.slice(half + 1);
    if (a.startsWith("a/") && b.startsWith("b/") && a.slice(2) === b.slice(2)) return a.slice(2);
  }
  const m = /^a\/(.*) b\/(.*)$/.exec(first);
  return m?.[2];
}

function parseFileChunk(chunk: string): ChangedFile {
  const [patch] = parsePatch(chunk);
  const header = chunk.split(/^@@/m)[0] ?? "";
  const binary = /^GIT binary patch$/m.test(header) || /^Binary files .* differ$/m.test(header);
  const renameFrom = headerValue(chunk, "rename from");
  const renameTo = headerValue(chunk, "rename to");
  const fallback = pathFromGitLine(chunk) ?? "";
  const oldName = renameFrom ?? stripPrefix(patch?.oldFileName) ?? fallback;
  const newName = renameTo ?? stripPrefix(patch?.newFileName) ?? fallback;
  const created = /^new file mode /m.test(header);
  const deleted = /^deleted file mode /m.test(header);
  const status: ChangeStatus = created
    ? "added"
    : deleted
      ? "deleted"
      : oldName !== newName
        ? "renamed"
        : "modified";
  const hunks: DiffHunk[] = [];
  for (const h of patch?.hunks ?? []) {
    let oldLine = h.oldStart;
    let newLine = h.newStart;
    const hunk: DiffHunk = { added: [], removed: [] };
    for (const l of h.lines) {
      const tag = l[0];
      const text = l.slice(1);
      if (tag === "+") hunk.added.push({ line: newLine++, text });
      else if (tag === "-") hunk.removed.push({ line: oldLine++, text });
      else if (tag === " ") {
        oldLine++;
        newLine++;
      }
    }
    hunks.push(hunk);
  }
  const flat = (k: "added" | "removed"): DiffLine[] => hunks.flatMap((h) => h[k]);
  return {
    path: deleted ? oldName : newName,
    oldPath: created ? newName : oldName,
    status,
    binary,
    oldMode: headerValue(chunk, "deleted file mode") ?? headerValue(chunk, "old mode") ?? indexMode(header),
    newMode: headerValue(chunk, "new file mode") ?? headerValue(chunk, "new mode") ?? indexMode(header),
    hunks,
    added: flat("added"),
    removed: flat("removed"),
  };
}

/** `index abc..def 100644`: the mode when it did not change. */
function indexMode(header: string): string | undefined {
  return /^index \S+ (\d{6})$/m.exec(header)?.[1];
}
