import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
} from "node:fs";
import path from "node:path";
import type { GateRun } from "../core/types.js";
import { writeFileAtomic } from "../environment/fs-safe.js";
import type { SacredGuard } from "../environment/sacred.js";

/**
 * Gate results by (work-tree hash, gate, gate fingerprint: commands + tool versions + outside inputs, flake
 * re-runs, isolation: a result computed unjailed or under other jail flags is never served to a jailed run; for a
 * target verified alone, the target). Re-checking an unchanged tree reads one small JSON file. Stored under
 * `<root>/.odibi-improve/gate-cache/`, outside every sandbox and outside what the jail may write.
 */
export class GateCache {
  constructor(
    readonly dir: string,
    private readonly guard: SacredGuard,
  ) {}

  key(parts: {
    treeHash: string;
    gate: string;
    fingerprint: string;
    flakeReruns: number;
    /** `isolationFingerprint` of the runner the result comes from. */
    isolation: string;
    /** The check verified alone in a fresh process (verifyTargetAlone), when the entry holds that verdict. */
    target?: string;
  }): string {
    return createHash("sha256")
      .update(
        JSON.stringify([
          parts.treeHash,
          parts.gate,
          parts.fingerprint,
          parts.flakeReruns,
          parts.isolation,
          ...(parts.target === undefined ? [] : [parts.target]),
        ]),
      )
      .digest("hex");
  }

  private file(key: string): string {
    return path.join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  get(key: string): GateRun | undefined {
    const f = this.file(key);
    if (!existsSync(f)) return undefined;
    try {
      return JSON.parse(readFileSync(f, "utf8")) as GateRun;
    } catch {
      // A damaged entry is a miss, never an error: it is rewritten after the next run.
      return undefined;
    }
  }

  set(key: string, run: GateRun): void {
    writeFileAtomic(this.guard, this.file(key), JSON.stringify({ ...run, cached: undefined }));
  }
}

/**
 * The hash of a work tree exactly as the gates will see it: every entry but `.git` (tracked, untracked and ignored
 * files alike, empty folders, symbolic links by their target, the executable bit), each file by its bytes as they
 * are on disk (no line-ending or attribute conversion: git's tree of the same folder could equal another folder's).
 * Two trees with the same hash hold the same bytes, so a gate result of one is a result of the other. An entry that
 * cannot be read as such (a FIFO, a device, a file that vanished) makes the hash unique: the tree is never served
 * from the cache. Pure apart from reading `dir`; links are never followed and FIFOs never block.
 */
export function hashWorkTree(dir: string): string {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(1 << 16);
  const unreadable = (rel: string) => h.update(`?${rel}\0${randomBytes(16).toString("hex")}\0`);
  const file = (abs: string, rel: string, size: number) => {
    let fd: number;
    try {
      fd = openSync(abs, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
    } catch {
      return unreadable(rel);
    }
    try {
      if (!fstatSync(fd).isFile()) return unreadable(rel);
      h.update(`f${rel}\0${size}\0`);
      let total = 0;
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
        h.update(buf.subarray(0, n));
        total += n;
      }
      h.update(`\0${total}\0`);
    } finally {
      closeSync(fd);
    }
  };
  const walk = (abs: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(abs).sort();
    } catch {
      return unreadable(rel);
    }
    h.update(`d${rel}\0`);
    for (const name of names) {
      if (rel === "" && name === ".git") continue;
      const a = path.join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(a);
      } catch {
        unreadable(r);
        continue;
      }
      if (st.isDirectory()) walk(a, r);
      else if (st.isSymbolicLink()) {
        try {
          h.update(`l${r}\0${readlinkSync(a)}\0`);
        } catch {
          unreadable(r);
        }
      } else if (st.isFile()) {
        h.update(st.mode & 0o111 ? "x" : "-");
        file(a, r, st.size);
      } else unreadable(r);
    }
  };
  walk(dir, "");
  return h.digest("hex");
}
