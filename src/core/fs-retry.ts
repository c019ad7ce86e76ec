import { renameSync, rmSync } from "node:fs";

/**
 * Renames and removals that wait out a file held open for a moment: on Windows an antivirus scan, an indexer or an
 * editor holding a file makes `rename` fail with EBUSY, EPERM or EACCES for a few hundred milliseconds. Elsewhere
 * only EBUSY is transient (EPERM and EACCES there are real permission errors, thrown at once).
 */

const TRANSIENT_WIN32 = new Set(["EBUSY", "EPERM", "EACCES"]);

function transient(code: string | undefined, platform: NodeJS.Platform): boolean {
  return code !== undefined && (platform === "win32" ? TRANSIENT_WIN32.has(code) : code === "EBUSY");
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** `renameSync`, retried with growing pauses (about 3 s in all) while the error is transient. */
export function renameRetrying(
  from: string,
  to: string,
  opts: { rename?: (a: string, b: string) => void; platform?: NodeJS.Platform; tries?: number } = {},
): void {
  const rename = opts.rename ?? renameSync;
  const tries = opts.tries ?? 8;
  for (let i = 0; ; i++) {
    try {
      rename(from, to);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (i + 1 >= tries || !transient(code, opts.platform ?? process.platform)) throw err;
      sleepSync(25 * 2 ** i);
    }
  }
}

/** Removes a file or a tree (nothing if absent); Node retries EBUSY, EPERM, ENOTEMPTY and EMFILE itself. */
export function removeRetrying(p: string): void {
  rmSync(p, { recursive: true, force: true, maxRetries: 6, retryDelay: 100 });
}
