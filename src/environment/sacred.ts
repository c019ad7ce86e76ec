import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import path from "node:path";
import { SacredChanged, SacredViolation } from "../core/errors.js";
import { isInside } from "../core/paths.js";

/**
 * Sacred is read, never written by the tool on its own (`apply`, run by the user, adds one branch: src/environment/sync.ts).
 * Two defences:
 * 1. `SacredGuard.assertWritable(p)`: every write the tool makes goes through it; it resolves symlinks (of the
 *    path or of its nearest existing ancestor) and refuses any real path inside Sacred.
 * 2. A fingerprint of every file in Sacred (`.git` included: path, type, mode, size, content hash, link target)
 *    and of the commit its HEAD names, taken at init and verified during and at the end of every command. Other
 *    programs legitimately write inside `.git` (a fetch, an IDE's `git status`, gc): those changes are a warning.
 *    A change to the working tree or to HEAD is an alarm.
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

export { isInside };

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
  /** `<ref> <commit>` (or the commit alone when detached) that Sacred's HEAD names; absent outside git. */
  head?: string;
}

const readIf = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
};

/**
 * What Sacred's HEAD names, read from the files (git itself is not run in Sacred): the branch and its commit, from
 * the loose ref or `packed-refs` (gc moves refs there without changing them).
 */
function headOf(root: string): string | undefined {
  const gitDir = path.join(root, ".git");
  const head = readIf(path.join(gitDir, "HEAD"))?.trim();
  if (head === undefined) return undefined;
  const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
  if (!ref) return head;
  const loose = readIf(path.join(gitDir, ...ref.split("/")))?.trim();
  const packed = readIf(path.join(gitDir, "packed-refs"))
    ?.split("\n")
    .map((l) => l.trim().split(" "))
    .find(([, name]) => name === ref)?.[0];
  return `${ref} ${loose ?? packed ?? "(no commit yet)"}`;
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
  const head = headOf(root);
  return {
    root,
    takenAt: new Date().toISOString(),
    files: Object.keys(entries).length,
    digest,
    entries,
    ...(head === undefined ? {} : { head }),
  };
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

/**
 * A difference split by what it means. `alarm`: the working tree (every path outside `.git`, a `.git` file
 * included) or HEAD changed. `benign`: paths inside the `.git` folder, which fetches, IDEs and gc write (FETCH_HEAD,
 * ORIG_HEAD, the index's stat data, logs, remote refs, packs); what HEAD names is checked on its own.
 */
export interface SacredDifference {
  alarm: string[];
  benign: string[];
}

export function classifySacredDifference(before: Fingerprint, after: Fingerprint): SacredDifference {
  const d = compareFingerprints(before, after);
  const out: SacredDifference = { alarm: [], benign: [] };
  const gitFolder = (fp: Fingerprint) => fp.entries[".git"]?.type === "dir";
  const inGitFolder = (p: string) => p.startsWith(".git/") || p === ".git";
  for (const [label, xs] of [
    ["added", d.added],
    ["removed", d.removed],
    ["changed", d.changed],
  ] as const) {
    for (const p of xs) {
      const benign = inGitFolder(p) && gitFolder(before) && gitFolder(after);
      (benign ? out.benign : out.alarm).push(`${label} ${p}`);
    }
  }
  // (A fingerprint recorded before HEAD was recorded has none; a `.git` appearing or going shows in the paths.)
  if (before.head !== undefined && after.head !== undefined && before.head !== after.head)
    out.alarm.unshift(`HEAD ${before.head ?? "(none)"} → ${after.head ?? "(none)"}`);
  return out;
}

const listed = (xs: string[]) =>
  `${xs.slice(0, 10).join(", ")}${xs.length > 10 ? ` … (+${xs.length - 10})` : ""}`;

/**
 * During a command: throws SacredChanged when Sacred's working tree or HEAD differ from `recorded`; a difference
 * only inside `.git` goes to `warn`. Returns Sacred's fingerprint now (safe to compare against next: it differs
 * from `recorded` at most inside `.git`).
 */
export function watchSacred(
  recorded: Fingerprint,
  sacred: string,
  opts: { since: string; warn: (message: string) => void },
): Fingerprint {
  if (!existsSync(sacred))
    throw new SacredChanged(
      `Sacred (${sacred}) no longer exists: it was removed or moved since ${opts.since}.`,
      "odibi-improve only reads Sacred and cannot tell who removed it. Put it back (Master is not affected) and rerun.",
    );
  const now = takeFingerprint(sacred);
  if (now.digest === recorded.digest && now.head === recorded.head) return now;
  const d = classifySacredDifference(recorded, now);
  if (d.alarm.length > 0)
    throw new SacredChanged(
      `Sacred (${sacred}) changed since ${opts.since}: ${listed(d.alarm)}. Stopping: odibi-improve cannot tell who changed it.`,
      "odibi-improve only reads Sacred (its guard refuses every write there), yet Sacred changed while it ran: " +
        "you, an editor, a git tool, or code it ran with isolation off. Check the change in your repository; " +
        "Master is not affected. When Sacred is as you want it, run the command again (the new state is recorded " +
        "with a warning).",
    );
  opts.warn(
    `Sacred's .git changed since ${opts.since} (${listed(d.benign)}): a fetch, an IDE or gc does that; its working tree and HEAD are unchanged.`,
  );
  return now;
}

const AFTER_INIT_HINT =
  "odibi-improve only reads Sacred and cannot tell who changed it. If you did, run `odibi-improve init --force` to start a new environment from it.";

/**
 * Verify Sacred against a recorded fingerprint, strictly (`.git` included); throws SacredChanged on any difference. `since` says
 * when the fingerprint was taken ("init", "this command started"); `hint` what the user can do.
 */
export function verifyFingerprint(
  recorded: Fingerprint,
  sacred: string,
  opts: { since?: string; hint?: string } = {},
): void {
  if (!existsSync(sacred))
    throw new SacredChanged(`Sacred (${sacred}) no longer exists`, opts.hint ?? AFTER_INIT_HINT);
  const now = takeFingerprint(sacred);
  if (now.digest === recorded.digest) return;
  const d = compareFingerprints(recorded, now);
  const show = (label: string, xs: string[]) =>
    xs.length
      ? `\n  ${label}: ${xs.slice(0, 10).join(", ")}${xs.length > 10 ? ` … (+${xs.length - 10})` : ""}`
      : "";
  throw new SacredChanged(
    `Sacred (${sacred}) changed since ${opts.since ?? "init"}!${show("added", d.added)}${show("removed", d.removed)}${show("changed", d.changed)}`,
    opts.hint ?? AFTER_INIT_HINT,
  );
}
