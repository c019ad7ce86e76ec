/**
 * Secrets (API keys read from the environment) must never reach a file, a log, a trajectory or a report.
 * Everything the brain writes passes through one Redactor built from the secrets the client actually read.
 */
export interface Redactor {
  text(s: string): string;
  /** A deep copy of a JSON-like value with every string redacted. */
  value<T>(v: T): T;
}

/** Keys shorter than this are not treated as secrets: replacing "a" everywhere would destroy every text. */
const MIN_SECRET_LENGTH = 6;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g;

export function createRedactor(secrets: ReadonlyArray<{ name: string; value: string }>): Redactor {
  // Longest first, so that a secret containing another is replaced whole.
  const list = secrets
    .filter((s) => s.value.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.value.length - a.value.length);
  const text = (s: string): string => {
    let out = s;
    for (const { name, value } of list) out = out.split(value).join(`[REDACTED:${name}]`);
    return out.replace(BEARER, "$1[REDACTED]");
  };
  const value = <T>(v: T): T => {
    if (typeof v === "string") return text(v) as T;
    if (Array.isArray(v)) return v.map(value) as T;
    if (v && typeof v === "object") {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) o[k] = value(x);
      return o as T;
    }
    return v;
  };
  return { text, value };
}
