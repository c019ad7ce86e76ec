import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from "node:fs";

/**
 * Reading a file that candidate code could have written (a test report, a run story, anything under a sandbox or a
 * gate output folder) without trusting what is there. A FIFO in place of a report blocks a plain `readFileSync`
 * forever, and it blocks the event loop with it: no timer, stop request or signal handler runs again. A symlink
 * would read a file the candidate cannot see itself; a device or a huge file would never end.
 *
 * So: lstat first (a regular file, not a link), open with O_NOFOLLOW | O_NONBLOCK (a FIFO swapped in after the
 * lstat opens without waiting for a writer), fstat the descriptor (still a regular file, the same inode) and read
 * at most `maxBytes`.
 */
export const MAX_REPORT_BYTES = 64 * 1024 * 1024;

export type RegularFileRead =
  | { kind: "text"; text: string }
  | { kind: "absent" }
  /** Present but not readable as a plain file: `why` says what it is (a FIFO, a symlink, too large). */
  | { kind: "refused"; why: string };

function describeType(st: {
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isDirectory(): boolean;
}): string {
  if (st.isSymbolicLink()) return "a symbolic link";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isDirectory()) return "a folder";
  return "not a regular file";
}

export function readRegularFile(file: string, maxBytes = MAX_REPORT_BYTES): RegularFileRead {
  let before: ReturnType<typeof lstatSync>;
  try {
    before = lstatSync(file);
  } catch {
    return { kind: "absent" };
  }
  if (!before.isFile()) return { kind: "refused", why: `${describeType(before)}, not a regular file` };
  if (before.size > maxBytes) return { kind: "refused", why: `larger than ${maxBytes} bytes` };
  let fd: number;
  try {
    // O_NOFOLLOW and O_NONBLOCK do not exist on Windows (no FIFOs to wait on there; the lstat above saw no link).
    fd = openSync(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    return { kind: "refused", why: `could not be opened (${(e as NodeJS.ErrnoException).code ?? e})` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { kind: "refused", why: `${describeType(st)}, not a regular file` };
    if (st.ino !== before.ino || st.dev !== before.dev)
      return { kind: "refused", why: "replaced while it was being opened" };
    const chunks: Buffer[] = [];
    let total = 0;
    // The first read asks for the whole file (one byte more, to see its end); a file still growing reads on by MiB.
    let ask = Math.min(st.size + 1, 1024 * 1024 * 16);
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(ask, maxBytes + 1 - total));
      ask = 1024 * 1024;
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > maxBytes) return { kind: "refused", why: `larger than ${maxBytes} bytes` };
    }
    return { kind: "text", text: Buffer.concat(chunks).toString("utf8") };
  } finally {
    closeSync(fd);
  }
}
