import type { Workspace } from "../workspace/workspace.js";

/** A lint rule's documentation in one line, or undefined when the linter does not know the rule. */
export type RuleDescriber = (rule: string, signal?: AbortSignal) => Promise<string | undefined>;

/**
 * `ruff rule F401 --output-format json` → `F401 (unused-import): Checks for unused imports. Unused imports add a
 * performance overhead at runtime, …`: what the rule checks, then the first sentence of why. Rules that are not
 * ruff codes are not asked about.
 */
export function ruleLine(json: string): string | undefined {
  let d: { name?: unknown; code?: unknown; explanation?: unknown; summary?: unknown };
  try {
    d = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof d.code !== "string") return undefined;
  const explanation = typeof d.explanation === "string" ? d.explanation : "";
  const section = (title: string) =>
    new RegExp(`^## ${title}\\n([\\s\\S]*?)(?:\\n\\n|\\n## |(?![\\s\\S]))`, "m")
      .exec(explanation)?.[1]
      ?.replace(/\s+/g, " ")
      .trim();
  const what = section("What it does") ?? (typeof d.summary === "string" ? d.summary : "");
  const why = section("Why is this bad\\?")?.split(/(?<=\.)\s/)[0];
  return `${d.code}${typeof d.name === "string" ? ` (${d.name})` : ""}: ${[what, why].filter(Boolean).join(" ")}`;
}

const RUFF_CODE = /^[A-Z]{1,4}\d{2,4}$/;
/** Asked once per rule and environment for the life of the process: the documentation does not change. */
const cache = new Map<string, Promise<string | undefined>>();

/**
 * Asks the venv's ruff (`python -m ruff`, run in the workspace with the gates' environment `env`) for each rule's
 * documentation.
 * A rule ruff cannot describe (not installed, another linter's rule) gets none: the prompt then shows the code only.
 */
export function createRuleDescriber(workspace: Workspace, env: Record<string, string>): RuleDescriber {
  return (rule, signal) => {
    if (!RUFF_CODE.test(rule)) return Promise.resolve(undefined);
    const key = `${env.PATH ?? ""}\u0000${rule}`;
    let doc = cache.get(key);
    if (!doc) {
      doc = workspace
        .exec("python", ["-m", "ruff", "rule", rule, "--output-format", "json"], {
          env,
          timeoutMs: 30_000,
          maxOutputBytes: 256 * 1024,
          signal,
        })
        .then((r) => {
          // A run cut short says nothing about the rule: asked again next time.
          if (r.aborted || r.timedOut) cache.delete(key);
          return r.exitCode === 0 ? ruleLine(r.stdout) : undefined;
        });
      cache.set(key, doc);
    }
    return doc;
  };
}
