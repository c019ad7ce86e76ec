import type { VERIFICATIONS } from "../config/schema.js";

/**
 * The promotion queue: the one place Master moves. Candidates from any number of workers wait here and are settled
 * one batch at a time, in the order they came:
 *
 * - `candidate` verification takes one candidate at a time. A candidate gated fully on Master's current commit is
 *   promoted as it is; one made on an older Master is re-applied on the current one and gated again.
 * - `batch` verification takes every candidate waiting (at most `maxBatch`), applies them in order on Master and
 *   runs the full gates once. When the batch fails it is split in two and each half settled in turn (the first half
 *   on Master, the second on Master after what the first half promoted), down to the culprit, as merge queues do.
 *
 * The queue only schedules: what a verification, a promotion and a rejection are is the runner's (`QueueServices`).
 */

export type Verification = (typeof VERIFICATIONS)[number];

/** What the queue needs of a candidate: the Master commit it was fully gated on, when it was. */
export interface Queued {
  gatedOn?: string;
}

export type Judgement = { ok: true } | { ok: false; reason: string; gate?: string };

export interface QueueServices<T extends Queued> {
  /** Master's HEAD now. */
  head(): Promise<string>;
  /** The candidates applied in order on Master's HEAD and gated fully: one judgement per candidate, in order. */
  verify(items: T[]): Promise<Judgement[]>;
  /** Promote one candidate (it is re-applied on Master's HEAD first when Master moved); the queue awaits it. */
  promote(item: T): Promise<void>;
}

export type Settled = { promoted: true } | { promoted: false; reason: string; gate?: string };

interface Waiting<T> {
  item: T;
  resolve: (s: Settled) => void;
  reject: (e: unknown) => void;
}

export class PromotionQueue<T extends Queued> {
  private readonly waiting: Waiting<T>[] = [];
  private running: Promise<void> | undefined;
  /** How many full verifications ran (for the run's summary and the bench). */
  verifications = 0;

  constructor(
    private readonly services: QueueServices<T>,
    private readonly mode: Verification,
    private readonly maxBatch = 8,
  ) {}

  /** Queue a candidate; resolves when it was promoted or rejected (an error of the services rejects it). */
  submit(item: T): Promise<Settled> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.kick();
    });
  }

  get length(): number {
    return this.waiting.length;
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.waiting.length) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length) {
      const n = this.mode === "batch" ? this.maxBatch : 1;
      const batch = this.waiting.splice(0, n);
      const outcomes = new Map<T, Settled>();
      try {
        await this.settle(
          batch.map((w) => w.item),
          outcomes,
        );
        for (const w of batch) w.resolve(outcomes.get(w.item) ?? { promoted: false, reason: "not settled" });
      } catch (e) {
        for (const w of batch) {
          const done = outcomes.get(w.item);
          if (done) w.resolve(done);
          else w.reject(e);
        }
      }
    }
  }

  /** Promote what passes, reject the culprits: the whole batch at once, else each half in turn. */
  private async settle(items: T[], out: Map<T, Settled>): Promise<void> {
    if (items.length === 0) return;
    const only = items.length === 1 ? items[0]! : undefined;
    if (only?.gatedOn !== undefined && only.gatedOn === (await this.services.head())) {
      await this.services.promote(only);
      out.set(only, { promoted: true });
      return;
    }
    this.verifications++;
    const judged = await this.services.verify(items);
    if (judged.every((j) => j.ok)) {
      for (const item of items) {
        await this.services.promote(item);
        out.set(item, { promoted: true });
      }
      return;
    }
    if (only) {
      const j = judged[0] as Extract<Judgement, { ok: false }>;
      out.set(only, { promoted: false, reason: j.reason, ...(j.gate ? { gate: j.gate } : {}) });
      return;
    }
    const mid = Math.ceil(items.length / 2);
    await this.settle(items.slice(0, mid), out);
    await this.settle(items.slice(mid), out);
  }
}
