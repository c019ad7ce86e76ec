import path from "node:path";
import MiniSearch from "minisearch";
import { EnvironmentStateError, OdibiImproveError } from "../core/errors.js";
import type { Lesson, Outcome } from "../core/types.js";
import { mkdirGuarded } from "../environment/fs-safe.js";
import { WriterLock } from "../environment/lock.js";
import type { SacredGuard } from "../environment/sacred.js";
import { appendJsonl, readJsonl, terminateTornLine } from "./jsonl.js";
import {
  type AvoidanceOracle,
  type AvoidedIssue,
  AvoidedIssueSchema,
  LessonSchema,
  type Pattern,
  PatternSchema,
  type SimilarLesson,
} from "./types.js";

export interface CampaignMemoryOptions {
  /** Every write is checked against Sacred. */
  guard: SacredGuard;
  /** A signature is avoided once this many approaches to it have failed. Default 2. */
  avoidAfter?: number;
  /** Open without the writer lock (status, reports, the dashboard): `record` then throws. */
  readOnly?: boolean;
}

export const MEMORY_FILES = {
  lessons: "lessons.jsonl",
  patterns: "patterns.jsonl",
  avoided: "avoided_issues.jsonl",
  lock: ".writer.lock",
} as const;

const FAILED: ReadonlySet<Outcome> = new Set<Outcome>(["rejected", "no_change", "error"]);

export function isFailedOutcome(outcome: Outcome): boolean {
  return FAILED.has(outcome);
}

function patternOf(l: Lesson): Pattern {
  return {
    signature: l.task.signature,
    taskKind: l.task.kind,
    title: l.task.title,
    approach: `${l.approach.kind}:${l.approach.name}`,
    ...(l.approach.summary === undefined ? {} : { summary: l.approach.summary }),
    files: l.files,
    campaignId: l.campaignId,
    cycleId: l.cycleId,
    at: l.at,
  };
}

const patternKey = (p: Pick<Pattern, "campaignId" | "cycleId" | "signature">) =>
  `${p.campaignId}\u0000${p.cycleId}\u0000${p.signature}`;

interface SearchDoc {
  id: number;
  text: string;
}

const tokenize = MiniSearch.getDefault("tokenize") as (text: string) => string[];
const processTerm = MiniSearch.getDefault("processTerm") as (
  term: string,
) => string | null | undefined | false;

/** MiniSearch's own tokenizer and term processing, run once: the index then only splits on spaces. */
function terms(text: string): string[] {
  const out: string[] = [];
  for (const t of tokenize(text)) {
    const p = processTerm(t);
    if (typeof p === "string" && p) out.push(p);
  }
  return out;
}

const PRETOKENIZED = { tokenize: (s: string) => s.split(" "), processTerm: (t: string) => t };

/** Query terms in more than this share of lessons carry almost no BM25 weight but cost a scan of their postings. */
const COMMON_TERM_SHARE = 0.05;
const COMMON_TERM_MIN_DOCS = 50;

function searchText(l: Lesson): string {
  return [l.task.title, l.task.target, l.task.kind, l.approach.summary, l.gate, l.reason, ...l.files]
    .filter(Boolean)
    .join(" \n ");
}

/**
 * Memory that persists across campaigns (DESIGN.md §5): `<memory>/lessons.jsonl` is the source of truth;
 * `patterns.jsonl` (promoted approaches) and `avoided_issues.jsonl` (signatures with ≥ N failures) are derived
 * from it and re-derived at open if a crash fell between the two appends. The BM25 index is rebuilt at open.
 */
export class CampaignMemory implements AvoidanceOracle {
  readonly dir: string;
  readonly avoidAfter: number;
  readonly readOnly: boolean;
  /** Skipped torn/corrupt lines and repairs made at open. Never fatal; show them to the user. */
  readonly warnings: string[] = [];

  private readonly guard: SacredGuard;
  private readonly lock: WriterLock | null;
  private readonly lessons: Lesson[] = [];
  private readonly failuresBySignature = new Map<string, Lesson[]>();
  private readonly patterns: Pattern[] = [];
  private readonly patternKeys = new Set<string>();
  private readonly avoided = new Map<string, AvoidedIssue>();
  /** Built on the first query (open stays cheap for runs that never search), never persisted. */
  private index: MiniSearch<SearchDoc> | null = null;
  private readonly docFreq = new Map<string, number>();
  private closed = false;

  constructor(dir: string, opts: CampaignMemoryOptions) {
    const avoidAfter = opts.avoidAfter ?? 2;
    if (!Number.isInteger(avoidAfter) || avoidAfter < 1) {
      throw new OdibiImproveError(`avoidAfter must be a whole number ≥ 1, got ${avoidAfter}`);
    }
    this.dir = path.resolve(dir);
    this.avoidAfter = avoidAfter;
    this.readOnly = opts.readOnly ?? false;
    this.guard = opts.guard;
    if (!this.readOnly) mkdirGuarded(this.guard, this.dir);
    this.lock = this.readOnly ? null : WriterLock.acquire(this.guard, this.file("lock"));
    try {
      this.load();
    } catch (err) {
      this.lock?.release();
      throw err;
    }
  }

  private file(which: keyof typeof MEMORY_FILES): string {
    return path.join(this.dir, MEMORY_FILES[which]);
  }

  private load(): void {
    const lessons = readJsonl(this.file("lessons"), LessonSchema);
    const patterns = readJsonl(this.file("patterns"), PatternSchema);
    const avoided = readJsonl(this.file("avoided"), AvoidedIssueSchema);
    this.warnings.push(...lessons.warnings, ...patterns.warnings, ...avoided.warnings);
    if (!this.readOnly) {
      for (const [which, read] of [
        ["lessons", lessons],
        ["patterns", patterns],
        ["avoided", avoided],
      ] as const) {
        if (!read.endsClean) terminateTornLine(this.guard, this.file(which));
      }
    }
    for (const p of patterns.records) this.addPattern(p);
    for (const a of avoided.records) if (!this.avoided.has(a.signature)) this.avoided.set(a.signature, a);
    let repaired = 0;
    for (const l of lessons.records as Lesson[]) {
      this.ingest(l);
      repaired += this.derive(l, !this.readOnly);
    }
    if (repaired > 0)
      this.warnings.push(
        `re-derived ${repaired} pattern/avoided record(s) missing after an interrupted write`,
      );
  }

  /** Adds a lesson to the in-memory indices (the search index too, once it exists). */
  private ingest(l: Lesson): void {
    const id = this.lessons.length;
    this.lessons.push(l);
    if (isFailedOutcome(l.outcome)) {
      const list = this.failuresBySignature.get(l.task.signature) ?? [];
      list.push(l);
      this.failuresBySignature.set(l.task.signature, list);
    }
    if (this.index) this.indexDoc(this.index, id, l);
  }

  private indexDoc(index: MiniSearch<SearchDoc>, id: number, l: Lesson): void {
    const docTerms = terms(searchText(l));
    for (const t of new Set(docTerms)) this.docFreq.set(t, (this.docFreq.get(t) ?? 0) + 1);
    index.add({ id, text: docTerms.join(" ") });
  }

  private searchIndex(): MiniSearch<SearchDoc> {
    if (!this.index) {
      const index = new MiniSearch<SearchDoc>({ fields: ["text"], storeFields: [], ...PRETOKENIZED });
      for (let id = 0; id < this.lessons.length; id++) this.indexDoc(index, id, this.lessons[id]!);
      this.index = index;
    }
    return this.index;
  }

  /** Writes (or, at open, re-writes) the pattern / avoided record a lesson implies. Returns how many it wrote. */
  private derive(l: Lesson, write: boolean): number {
    let wrote = 0;
    if (l.outcome === "promoted") {
      const p = patternOf(l);
      if (!this.patternKeys.has(patternKey(p))) {
        if (write) appendJsonl(this.guard, this.file("patterns"), p);
        this.addPattern(p);
        wrote++;
      }
    }
    const failures = this.failuresBySignature.get(l.task.signature) ?? [];
    if (
      isFailedOutcome(l.outcome) &&
      failures.length >= this.avoidAfter &&
      !this.avoided.has(l.task.signature)
    ) {
      const a: AvoidedIssue = {
        signature: l.task.signature,
        title: l.task.title,
        target: l.task.target,
        failures: failures.length,
        approaches: [...new Set(failures.map((f) => `${f.approach.kind}:${f.approach.name}`))],
        ...(l.reason === undefined ? {} : { lastReason: l.reason }),
        at: l.at,
      };
      if (write) appendJsonl(this.guard, this.file("avoided"), a);
      this.avoided.set(a.signature, a);
      wrote++;
    }
    return wrote;
  }

  private addPattern(p: Pattern): void {
    const k = patternKey(p);
    if (this.patternKeys.has(k)) return;
    this.patternKeys.add(k);
    this.patterns.push(p);
  }

  /** Appends a lesson (and the pattern or avoided record it implies). One fsynced line each. */
  record(lesson: Lesson): void {
    if (this.closed) throw new EnvironmentStateError("campaign memory is closed");
    if (this.readOnly) {
      throw new EnvironmentStateError("campaign memory was opened read-only", {
        hint: "Open it without readOnly (this takes the writer lock) to record lessons.",
      });
    }
    const parsed = LessonSchema.safeParse(lesson);
    if (!parsed.success) {
      throw new OdibiImproveError(
        `invalid lesson: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
    }
    appendJsonl(this.guard, this.file("lessons"), lesson);
    this.ingest(lesson);
    this.derive(lesson, true);
  }

  /** Failed attempts (rejected, no change, error), optionally for one signature, oldest first. */
  getFailedApproaches(signature?: string): Lesson[] {
    if (signature !== undefined) return [...(this.failuresBySignature.get(signature) ?? [])];
    return this.lessons.filter((l) => isFailedOutcome(l.outcome));
  }

  /** BM25 full-text search over task titles, targets, summaries, reasons and files. Best first. */
  querySimilar(text: string, k = 5): SimilarLesson[] {
    if (k <= 0) return [];
    const index = this.searchIndex();
    const known = [...new Set(terms(text))].filter((t) => this.docFreq.has(t));
    if (known.length === 0) return [];
    // Drop the very common terms (keeping the two rarest if all are common): same ranking in practice, far less work.
    const limit = Math.max(COMMON_TERM_MIN_DOCS, COMMON_TERM_SHARE * this.lessons.length);
    const byRarity = known.sort((a, b) => this.docFreq.get(a)! - this.docFreq.get(b)!);
    const rare = byRarity.filter((t) => this.docFreq.get(t)! <= limit);
    const query = rare.length > 0 ? rare : byRarity.slice(0, 2);
    return index
      .search(query.join(" "))
      .slice(0, k)
      .map((r) => ({ lesson: this.lessons[r.id as number]!, score: r.score }));
  }

  shouldAvoid(signature: string): boolean {
    return this.avoided.has(signature);
  }

  avoidedIssues(): AvoidedIssue[] {
    return [...this.avoided.values()];
  }

  /** All lessons, oldest first. */
  allLessons(): readonly Lesson[] {
    return this.lessons;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lock?.release();
  }
}
