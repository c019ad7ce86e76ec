import { realpathSync, statSync } from "node:fs";
import path from "node:path";
import { isInside } from "../core/paths.js";

/** The folders of a root the dashboard serves files from (reports, trajectories, run logs). */
export const SERVED_FOLDERS = ["reports", "trajectories", "logs"] as const;

/** A URL path the dashboard refuses: traversal, an absolute path, a folder it does not serve, a link out. */
export class PathRefused extends Error {}
/** A file that is not there. */
export class FileMissing extends Error {}

/**
 * The real path of `rel` (a `/`-separated path from a URL, already decoded) under one of the root's served folders.
 * Refused: an empty, absolute or `\`-separated path, a `.`/`..`/empty segment, a NUL, a folder not served, and
 * anything whose real path (links resolved) leaves that folder. Missing or not a regular file: FileMissing.
 */
export function servedFile(root: string, rel: string): string {
  if (!rel || rel.includes("\0") || rel.includes("\\") || rel.startsWith("/") || /^[A-Za-z]:/.test(rel))
    throw new PathRefused(`refused path: ${JSON.stringify(rel)}`);
  const parts = rel.split("/");
  if (parts.some((p) => p === "" || p === "." || p === ".."))
    throw new PathRefused(`refused path (traversal): ${JSON.stringify(rel)}`);
  const folder = parts[0] as (typeof SERVED_FOLDERS)[number];
  if (!SERVED_FOLDERS.includes(folder))
    throw new PathRefused(`not served: ${folder}/ (only ${SERVED_FOLDERS.join(", ")})`);
  let base: string;
  let real: string;
  try {
    base = realpathSync(path.join(root, folder));
    real = realpathSync(path.join(root, ...parts));
  } catch {
    throw new FileMissing(`no such file: ${rel}`);
  }
  if (!isInside(real, base))
    throw new PathRefused(`refused path (leaves ${folder}/): ${JSON.stringify(rel)}`);
  if (!statSync(real).isFile()) throw new FileMissing(`not a file: ${rel}`);
  return real;
}

/** A campaign id as the runner makes them (`20260101-abc123`), or a refusal. */
export function checkedCampaignId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(id) || id.includes(".."))
    throw new PathRefused(`not a campaign id: ${JSON.stringify(id)}`);
  return id;
}
