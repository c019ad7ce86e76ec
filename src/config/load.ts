import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { type Document, isMap, isNode, isPair, isScalar, LineCounter, parseDocument, stringify } from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigIssue, NotFoundError } from "../core/errors.js";
import { foldCampaignAliases } from "./campaign-aliases.js";
import { REQUIRED_GATES_HINT, requiredGates } from "./required-gates.js";
import { type Config, type ConfigInput, ConfigSchema, registeredGates } from "./schema.js";

function locate(
  doc: Document,
  lc: LineCounter,
  path: PropertyKey[],
  key?: string,
): { line?: number; column?: number } {
  let node: unknown = path.length === 0 ? doc.contents : doc.getIn(path as unknown[], true);
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
    if (pair && isNode(pair.key)) node = pair.key;
  }
  // A missing key: point at the nearest existing parent.
  for (let n = path.length; !isNode(node) && n > 0; n--)
    node = doc.getIn(path.slice(0, n - 1) as unknown[], true);
  if (isNode(node) && node.range) {
    const pos = lc.linePos(node.range[0]);
    return { line: pos.line, column: pos.col };
  }
  return {};
}

function zodIssues(file: string, doc: Document, lc: LineCounter, error: z.ZodError): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const p = issue.path;
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({
          file,
          ...locate(doc, lc, p, key),
          path: [...p, key].join("."),
          message: `unknown key "${key}" (remove it or check its spelling; \`odibi-improve schema\` lists every key)`,
        });
      }
      continue;
    }
    out.push({ file, ...locate(doc, lc, p), path: p.join(".") || "(top)", message: issue.message });
  }
  return out;
}

function parseYaml(text: string): { doc: Document; lc: LineCounter } {
  const lc = new LineCounter();
  return { doc: parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true }), lc };
}

/** Parse and validate YAML text. Errors name file, line and column. */
export function parseConfig(text: string, file: string): Config {
  const { doc, lc } = parseYaml(text);
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        return {
          file,
          line: pos.line,
          column: pos.col,
          message: `invalid YAML: ${e.message.split("\n")[0]}`,
        };
      }),
      "Fix the YAML syntax at the position shown.",
    );
  }
  const data = doc.toJS() ?? {};
  const parsed = ConfigSchema.safeParse(data);
  if (!parsed.success)
    throw new ConfigError(
      zodIssues(file, doc, lc, parsed.error),
      "Fix the value(s) at the position(s) shown.",
    );
  const config = foldCampaignAliases(parsed.data);
  const gates = registeredGates(config.profile);
  const problems = gates ? requiredGates(config.gates, gates).problems : [];
  if (problems.length > 0)
    throw new ConfigError(
      problems.map((p) => {
        // A key (`require_ruff_clean`) is pointed at as unknown keys are; a list item at its value.
        const key = p.path.at(-1);
        const where =
          typeof key === "string" ? locate(doc, lc, p.path.slice(0, -1), key) : locate(doc, lc, p.path);
        return { file, ...where, path: p.path.join("."), message: p.message };
      }),
      REQUIRED_GATES_HINT,
    );
  return config;
}

export function loadConfig(file: string): Config {
  if (!existsSync(file))
    throw new NotFoundError(
      `no configuration at ${file}`,
      "Run `odibi-improve init --source <repo> --root <root>` first, or pass the right --root.",
    );
  const text = readFileSync(file, "utf8");
  const config = parseConfig(text, file);
  // Sacred is resolved against the root, the config file's folder (ImprovementEnvironment.sacred).
  const sacred = path.resolve(path.dirname(file), config.source.sacred_repo);
  if (!existsSync(sacred)) {
    const { doc, lc } = parseYaml(text);
    throw new ConfigError(
      [
        {
          file,
          ...locate(doc, lc, ["source", "sacred_repo"]),
          path: "source.sacred_repo",
          message: `the source repository ${sacred} does not exist`,
        },
      ],
      "Restore the repository at that path, or point source.sacred_repo at where it is now.",
    );
  }
  return config;
}

/** Render a config as YAML with a header comment. */
export function renderConfig(config: ConfigInput): string {
  return `# odibi-improve environment configuration. JSON Schema: \`odibi-improve schema\`.\n${stringify(config, { lineWidth: 0 })}`;
}
