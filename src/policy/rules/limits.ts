import type { PolicyViolation, RuleInput } from "../types.js";
import { violation } from "../violation.js";

/** More files or lines changed than `policy.max_files_changed` / `max_lines_changed`. */
export function sizeLimitRule({ files, settings }: RuleInput): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  if (files.length > settings.max_files_changed)
    out.push(
      violation(
        "size-limit",
        "(files)",
        0,
        `${files.length} files changed (limit ${settings.max_files_changed})`,
        files.slice(0, 8).map((f) => f.path),
      ),
    );
  const lines = files.reduce((n, f) => n + f.added.length + f.removed.length, 0);
  if (lines > settings.max_lines_changed)
    out.push(
      violation("size-limit", "(lines)", 0, `${lines} lines changed (limit ${settings.max_lines_changed})`),
    );
  return out;
}

/** Binary content cannot be reviewed line by line (and may hide anything). */
export function binaryFileRule({ files }: RuleInput): PolicyViolation[] {
  return files
    .filter((f) => f.binary)
    .map((f) => violation("binary-file", f.path, 0, `binary file ${f.status}`));
}

const SYMLINK_MODE = "120000";
const GITLINK_MODE = "160000";

function escapesRepo(p: string): boolean {
  if (p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith("\\\\")) return true;
  const parts: string[] = [];
  for (const seg of p.split(/[\\/]+/)) {
    if (seg === "..") {
      if (parts.length === 0) return true;
      parts.pop();
    } else if (seg !== "." && seg !== "") parts.push(seg);
  }
  return false;
}

/**
 * Everything must stay inside the repository's tracked tree: no absolute or `..` paths, nothing under `.git/`, no
 * symlink pointing outside the repo (a way to write into Sacred or HOME later), no submodule.
 */
export function outsideRepoRule({ files }: RuleInput): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  for (const f of files) {
    const bad = [f.path, f.oldPath].find((p) => escapesRepo(p) || /(^|\/)\.git(\/|$)/.test(p));
    if (bad) {
      out.push(violation("outside-repo", bad, 0, `path outside the repository's tracked tree: ${bad}`));
      continue;
    }
    if (f.newMode === GITLINK_MODE && f.status !== "deleted") {
      out.push(
        violation("outside-repo", f.path, 0, "submodule (gitlink) added: content outside the repository"),
      );
      continue;
    }
    if (f.newMode === SYMLINK_MODE && f.status !== "deleted") {
      const target = f.added[0]?.text ?? "";
      const dir = f.path.includes("/") ? f.path.slice(0, f.path.lastIndexOf("/")) : "";
      if (
        escapesRepo(target) ||
        escapesRepo(dir ? `${dir}/${target}` : target) ||
        /(^|\/)\.git(\/|$)/.test(target)
      )
        out.push(
          violation(
            "outside-repo",
            f.path,
            1,
            `symlink pointing outside the repository: ${f.path} → ${target}`,
            [`+${target}`],
          ),
        );
    }
  }
  return out;
}
