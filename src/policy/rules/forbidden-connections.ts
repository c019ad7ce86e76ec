import { isCodeOrConfig } from "../paths.js";
import type { PolicyViolation, RuleInput } from "../types.js";
import { isCommentLine, plus, violation } from "../violation.js";

/** URI schemes that reach the same store as a connection name (`s3` → `s3a://`, `gcs` → `gs://`). */
const SCHEMES: Record<string, string[]> = {
  s3: ["s3", "s3a", "s3n"],
  gcs: ["gs", "gcs"],
  gs: ["gs", "gcs"],
};

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Ways a name enters the code: a Python import (`import boto3`, `from google.cloud import storage`, dynamic
 * imports), a dependency declared (requirements, pyproject), an odibi connection type (`type: s3` in YAML,
 * `register_connection_factory("s3", …)`, an enum value `"s3"`), a URI (`s3://bucket`).
 */
export function forbiddenPatterns(name: string, file: string): RegExp[] {
  const n = escapeRe(name);
  const patterns = [
    new RegExp(`^\\s*(?:from|import)\\s+${n}(?:\\.|\\s|,|$)`),
    new RegExp(`^\\s*import\\s+.*(?:,\\s*)${n}(?:\\.|\\s|,|$)`),
    new RegExp(`\\b(?:import_module|__import__|find_spec)\\(\\s*["']${n}(?:\\.|["'])`),
    new RegExp(`\\btype\\s*[:=]\\s*["']?${n}["']?\\s*(?:[,#}]|$)`),
    new RegExp(`\\bregister_connection_factory\\(\\s*["']${n}["']`),
    new RegExp(`=\\s*["']${n}["']\\s*(?:#.*)?$`),
  ];
  if (/(^|\/)(requirements[^/]*\.(txt|in)|pyproject\.toml|setup\.(cfg|py)|Pipfile)$/.test(file))
    patterns.push(new RegExp(`^\\s*["']?${n}\\s*(?:[<>=~!;\\[]|["']|$)`));
  const schemes = SCHEMES[name] ?? (/^[a-z][a-z0-9+.-]*$/.test(name) && !name.includes(".") ? [name] : []);
  if (schemes.length > 0) patterns.push(new RegExp(`\\b(?:${schemes.map(escapeRe).join("|")})://`));
  return patterns;
}

/** `policy.forbidden_connections` (default s3, gcs, boto3, google.cloud): "Azure only (no AWS/GCP)". */
export function forbiddenConnectionRule({ files, settings }: RuleInput): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  for (const f of files) {
    if (!isCodeOrConfig(f.path)) continue;
    const rules = settings.forbidden_connections.map((name) => ({
      name,
      patterns: forbiddenPatterns(name, f.path),
    }));
    const removed = new Set(f.removed.map((l) => l.text.trim()));
    for (const l of f.added) {
      if (isCommentLine(l.text) || removed.has(l.text.trim())) continue;
      const hit = rules.find((r) => r.patterns.some((re) => re.test(l.text)));
      if (hit)
        out.push(
          violation("forbidden-connection", f.path, l.line, `forbidden connection "${hit.name}" introduced`, [
            plus(l),
          ]),
        );
    }
  }
  return out;
}
