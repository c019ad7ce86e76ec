import { EDGE_CASES, type EdgeCase, edgeHarness } from "./edge-harness.js";
import type { OdibiIntrospection } from "./introspect.js";
import { paramCandidates } from "./params.js";
import { patternHarness } from "./pattern-harness.js";
import type { Harness } from "./project.js";
import { transformerHarness } from "./transformer-harness.js";

/** Something odibi has that no harness covers, or covers without stating its result. */
export interface CoverageGap {
  kind: "transformer" | "pattern" | "edge";
  subject: string;
  reason: "no harness" | "no stated result";
}

/**
 * Harnesses for one odibi, from its introspection (roadmap phase E2): one per transformer, one per pattern, one per
 * edge case. Pure: writing, validating and running them is write.ts and run.ts.
 */
/** Every transformer's parameter candidates, for odibi to choose from (chooseParams). */
export function allParamCandidates(intro: OdibiIntrospection): Record<string, Record<string, unknown>[]> {
  return Object.fromEntries(
    intro.transformers.map((t) => [t.name, t.params ? paramCandidates(t.params, t.summary) : [{}]]),
  );
}

export class HarnessGenerator {
  constructor(readonly intro: OdibiIntrospection) {}

  generateTransformerTest(name: string): Harness {
    const t = this.intro.transformers.find((x) => x.name === name);
    if (!t) throw new Error(`odibi ${this.intro.odibiVersion} has no transformer ${name}`);
    return transformerHarness(t, this.intro.paramChoice[name]);
  }

  generatePatternTest(name: string): Harness {
    const p = this.intro.patterns.find((x) => x.name === name);
    if (!p) throw new Error(`odibi ${this.intro.odibiVersion} has no pattern ${name}`);
    return patternHarness(p);
  }

  generateEdgeCaseTest(c: EdgeCase): Harness {
    return edgeHarness(c, this.intro);
  }

  /** Every harness: transformers, then patterns, then edge cases. */
  generateAll(): Harness[] {
    return [
      ...this.intro.transformers.map((t) => this.generateTransformerTest(t.name)),
      ...this.intro.patterns.map((p) => this.generatePatternTest(p.name)),
      ...EDGE_CASES.map((c) => this.generateEdgeCaseTest(c)),
    ];
  }

  /**
   * What the given harnesses (by default all this generator makes) leave uncovered: a transformer, pattern or edge
   * case without a harness, or whose harness states no result beyond "it wrote something".
   */
  listCoverageGaps(harnesses: readonly Harness[] = this.generateAll()): CoverageGap[] {
    const gaps: CoverageGap[] = [];
    const subjects: [CoverageGap["kind"], string][] = [
      ...this.intro.transformers.map((t) => ["transformer", t.name] as [CoverageGap["kind"], string]),
      ...this.intro.patterns.map((p) => ["pattern", p.name] as [CoverageGap["kind"], string]),
      ...EDGE_CASES.map((c) => ["edge", c] as [CoverageGap["kind"], string]),
    ];
    for (const [kind, subject] of subjects) {
      const own = harnesses.filter((h) => h.kind === kind && h.subject === subject);
      if (own.length === 0) gaps.push({ kind, subject, reason: "no harness" });
      else if (!own.some((h) => h.expectations.some(statesResult)))
        gaps.push({ kind, subject, reason: "no stated result" });
    }
    return gaps;
  }
}

/** An expectation beyond "the output is readable". */
export function statesResult(e: Harness["expectations"][number]): boolean {
  return Object.keys(e).some((k) => !["node", "output", "why", "minColumns"].includes(k));
}
