import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { GateRun } from "../core/types.js";
import { writeFileAtomic } from "../environment/fs-safe.js";
import type { SacredGuard } from "../environment/sacred.js";

/**
 * Gate results by (working-tree hash, gate, gate fingerprint: commands + tool versions + outside inputs, flake
 * re-runs, isolation: a result computed unjailed or under other jail flags is never served to a jailed run). Re-checking an unchanged tree reads one small JSON file. Stored under `<root>/.odibi-improve/gate-cache/`.
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
  }): string {
    return createHash("sha256")
      .update(
        JSON.stringify([parts.treeHash, parts.gate, parts.fingerprint, parts.flakeReruns, parts.isolation]),
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
