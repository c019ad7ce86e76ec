import path from "node:path";
import { OdibiImproveError } from "../core/errors.js";
import { writeFileAtomic } from "../environment/fs-safe.js";
import { layoutOf } from "../environment/layout.js";
import type { SacredGuard } from "../environment/sacred.js";

/** Writes a rendered report to `<root>/reports/<name>` atomically, through the Sacred guard. Returns the path. */
export function writeReport(guard: SacredGuard, root: string, name: string, markdown: string): string {
  if (name !== path.basename(name) || !name.endsWith(".md")) {
    throw new OdibiImproveError(`report name must be a plain file name ending in .md, got "${name}"`);
  }
  const file = path.join(layoutOf(root).reports, name);
  writeFileAtomic(guard, file, markdown);
  return file;
}
