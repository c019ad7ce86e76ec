import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import path from "node:path";
import { SacredViolation } from "../core/errors.js";

/**
 * Sacred is read, never written. Two defences:
 * 1. `SacredGuard.assertWritable(p)`: every write the tool makes goes through it; it resolves symlinks (of the
 *    path or of its nearest existing ancestor) and refuses any real path inside Sacred.
 * 2. A fingerprint of every file in Sacred (`.git` included: path, type, mode, size, content hash, link target),
 *    taken at init and verified at the end of every command.
 */

function realOrResolved(p: string): string {
  // Resolve the longest existing prefix through symlinks, then append the rest.
  let cur = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync.native(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return path.resolve(p);
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

function samePathCase(p: string): string {
  return process.platform === "win32" || process.platform === "darwin" ? p.toLowerCase() : p;
}

export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(samePathCase(parent), samePathCase(child));
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

export class SacredGuard {
  readonly sacredReal: string;
  constructor(sacred: string) {
    this.sacredReal = realOrResolved(sacred);
  }
  /** Throws SacredViolation when `target` (after resolving symlinks) is inside Sacred. */
  assertWritable(target: string): void {
    const real = realOrResolved(target);
    if (isInside(real, this.sacredReal) || isInside(path.resolve(target), this.sacredReal)) {
      throw new SacredViolation(
        `refused to write ${target}: it resolves to ${real}, inside Sacred (${this.sacredReal})`,
      );
    }
  }
}

export interface FingerprintEntry {
  type: "file" | "dir" | "link";
  mode: number;
  size?: number;
  sha256?: string;
  target?: string;
}
export interface Fingerprint {
  root: string;
  takenAt: string;
  files: number;
  digest: string;
  entries: Record<string, FingerprintEntry>;
}

export function takeFingerprint(root: string): Fingerprint {
  const entries: Record<string, FingerprintEntry> = {};
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const abs = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) entries[r] = { type: "link", mode: st.mode, target: readlinkSync(abs) };
      else if (st.isDirectory()) {
        entries[r] = { type: "dir", mode: st.mode };
        walk(abs, r);
      } else if (st.isFile()) {
        entries[r] = {
          type: "file",
          mode: st.mode,
          size: st.size,
          sha256: createHash("sha256").update(readFileSync(abs)).digest("hex"),
        };
      }
    }
  };
  walk(root, "");
  const digest = createHash("sha256").update(JSON.stringify(entries)).digest("hex");
  return { root, takenAt: new Date().toISOString(), files: Object.keys(entries).length, digest, entries };
}

export interface FingerprintDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

export function compareFingerprints(before: Fingerprint, after: Fingerprint): FingerprintDiff {
  const diff: FingerprintDiff = { added: [], removed: [], changed: [] };
  for (const [k, v] of Object.entries(before.entries)) {
    const w = after.entries[k];
    if (!w) diff.removed.push(k);
    else if (JSON.stringify(v) !== JSON.stringify(w)) diff.changed.push(k);
  }
  for (const k of Object.keys(after.entries)) if (!(k in before.entries)) diff.added.push(k);
  return diff;
}

const AFTER_INIT_HINT =
  "If you changed it yourself, run `odibi-improve init --force` to start a new environment from it.";

/**
 * Verify Sacred against a recorded fingerprint; throws a loud SacredViolation on any difference. `since` says
 * when the fingerprint was taken ("init", "this command started"); `hint` what the user can do.
 */
export function verifyFingerprint(
  recorded: Fingerprint,
  sacred: string,
  opts: { since?: string; hint?: string } = {},
): void {
  if (!existsSync(sacred)) throw new SacredViolation(`Sacred (${sacred}) no longer exists`);
  const now = takeFingerprint(sacred);
  if (now.digest === recorded.digest) return;
  const d = compareFingerprints(recorded, now);
  const show = (label: string, xs: string[]) =>
    xs.length
      ? `\n  ${label}: ${xs.slice(0, 10).join(", ")}${xs.length > 10 ? ` … (+${xs.length - 10})` : ""}`
      : "";
  throw new SacredViolation(
    `Sacred (${sacred}) changed since ${opts.since ?? "init"}!${show("added", d.added)}${show("removed", d.removed)}${show("changed", d.changed)}\n` +
      (opts.hint ?? AFTER_INIT_HINT),
  );
}
