import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { SacredGuard } from "../environment/sacred.js";
import { processRedactor } from "../llm/redact.js";

/**
 * The run log, `<root>/logs/<campaign>.log`: every line a campaign run prints, also when it prints JSON. Lines
 * printed before the campaign has its id (recovery, isolation) are kept and written with the first line after.
 */
export class RunLog {
  private readonly pending: string[] = [];

  constructor(
    private readonly guard: SacredGuard,
    private readonly dir: string,
    private readonly campaignId: () => string,
  ) {}

  readonly line = (text: string): void => {
    this.pending.push(processRedactor().text(text));
    const id = this.campaignId();
    if (!id) return;
    const file = path.join(this.dir, `${id}.log`);
    this.guard.assertWritable(file);
    mkdirSync(this.dir, { recursive: true });
    appendFileSync(file, `${this.pending.join("\n")}\n`);
    this.pending.length = 0;
  };
}
