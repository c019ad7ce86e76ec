import { spawn } from "node:child_process";
import { once } from "node:events";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { reduceCampaigns } from "../src/events/campaigns.js";
import { readEvents } from "../src/events/log.js";
import { reduceJournal } from "../src/events/reducers.js";
import { runProcess } from "../src/exec/run-process.js";
import { type RecordedRequest, type ScriptedReply, startLlmServer } from "./llm-server.js";
import { workerCommand } from "./redis-server.js";

/**
 * The acceptance corpus of issue 12: real one-location defects injected into odibi 3.15.1 (its sdist), each replayed
 * as a full campaign (the real CLI, the odibi profile, jailed gates) against a scripted model that acts only on what
 * the conversation shows. Shared by `npm run bench -- brain` (all defects) and tests/brain-corpus.test.ts (two).
 * No vitest import: the bench runs this module with tsx.
 */

export interface Defect {
  id: string;
  /** `pytest`: odibi's own tests catch it; `golden`: only the golden projects (`odibi run`) do. */
  kind: "pytest" | "golden";
  /** Repository-relative, `/`-separated. */
  file: string;
  /** Occurs exactly once in the file. */
  original: string;
  /** Occurs exactly once in the defective file. */
  defective: string;
  /** The checks failing on the defective Master, besides the sdist's own (PRE_EXISTING), sorted. */
  fails: string[];
  /** What identifies the failure: a real model needs to see it (it is in the failing check's message or detail). */
  error: string;
  /**
   * `--focus-transformers` for the campaign: the test module or golden project whose failure comes first. Needed
   * because the sdist's own test_docs_sync fails on Master (see PRE_EXISTING) and would be cycle 1's task.
   */
  focus: string;
}

/**
 * Failing on the unmodified sdist, so never a defect's evidence: test_docs_sync compares docs/reference/yaml_schema.md,
 * which the sdist does not ship; test_spark_engine_maintain needs pyspark (the campaign calls it "not work").
 */
export const PRE_EXISTING = [
  "tests/test_auto_optimize.py::test_spark_engine_maintain",
  "tests/test_docs_sync.py::test_docs_are_synced",
];

const SQL_CORE = "odibi/transformers/sql_core.py";
const BULK = "tests/test_transformers_bulk_columns.py";

export const CORPUS: Defect[] = [
  {
    id: "add-prefix-order",
    kind: "pytest",
    file: SQL_CORE,
    original: 'select_parts.append(f"{col} AS {params.prefix}{col}")',
    defective: 'select_parts.append(f"{col} AS {col}{params.prefix}")',
    fails: [
      `${BULK}::test_add_prefix_all_columns`,
      `${BULK}::test_add_prefix_specific_columns`,
      `${BULK}::test_add_prefix_with_exclude`,
    ],
    error: "'idsrc_'",
    focus: "test_add_prefix",
  },
  {
    id: "add-suffix-order",
    kind: "pytest",
    file: SQL_CORE,
    original: 'select_parts.append(f"{col} AS {col}{params.suffix}")',
    defective: 'select_parts.append(f"{col} AS {params.suffix}{col}")',
    fails: [`${BULK}::test_add_suffix_all_columns`, `${BULK}::test_add_suffix_specific_columns`],
    error: "'_rawid'",
    focus: "test_add_suffix",
  },
  {
    id: "coalesce-drop-inverted",
    kind: "pytest",
    file: SQL_CORE,
    original: "    if params.drop_source:",
    defective: "    if not params.drop_source:",
    fails: [`${BULK}::test_coalesce_columns_drop_source`],
    error: "assert 'mobile' not in",
    focus: "test_coalesce_columns",
  },
  {
    id: "trim-none-inverted",
    kind: "pytest",
    file: SQL_CORE,
    original: "    if target_cols is None:",
    defective: "    if target_cols is not None:",
    fails: [`${BULK}::test_trim_whitespace_all_columns`],
    error: "TypeError: argument of type 'NoneType' is not iterable",
    focus: "test_trim_whitespace",
  },
  {
    id: "sessionize-operator",
    kind: "pytest",
    file: "odibi/transformers/advanced.py",
    original: "is_new = (time_diff > params.threshold_seconds)",
    defective: "is_new = (time_diff < params.threshold_seconds)",
    fails: ["tests/test_transformers_advanced.py::test_sessionize_pandas"],
    error: "'u1-2' == 'u1-1'",
    focus: "test_sessionize",
  },
  {
    id: "fact-lookup-column",
    kind: "golden",
    file: "odibi/patterns/fact.py",
    original: "dim_subset = dim_df[[dim_key, sk_col]].copy()",
    defective: "dim_subset = dim_df[[source_col, sk_col]].copy()",
    fails: [
      "golden:star-schema",
      "golden:star-schema/build_facts",
      "golden:star-schema/build_facts/fact_sales",
    ],
    error: "not in index",
    focus: "golden:star-schema",
  },
  {
    id: "dimension-sort-key",
    kind: "golden",
    file: "odibi/patterns/dimension.py",
    original: "df = df.sort_values(by=natural_key).reset_index(drop=True)",
    defective: "df = df.sort_values(by=surrogate_key).reset_index(drop=True)",
    fails: [
      "golden:star-schema",
      "golden:star-schema/build_dimensions",
      "golden:star-schema/build_dimensions/dim_customer",
      "golden:star-schema/build_dimensions/dim_product",
      "golden:star-schema/build_facts",
      "golden:star-schema/build_facts/dim_customer",
      "golden:star-schema/build_facts/dim_product",
    ],
    error: "KeyError",
    focus: "golden:star-schema",
  },
  {
    id: "date-dimension-week",
    kind: "golden",
    file: "odibi/patterns/date_dimension.py",
    original: "dt.isocalendar().week.astype(int)",
    defective: "dt.isocalendar().weeks.astype(int)",
    fails: [
      "golden:star-schema",
      "golden:star-schema/build_dimensions",
      "golden:star-schema/build_dimensions/dim_date",
      "golden:star-schema/build_facts",
      "golden:star-schema/build_facts/dim_date",
    ],
    error: "has no attribute 'weeks'",
    focus: "golden:star-schema",
  },
  {
    id: "fact-orphan-column",
    kind: "golden",
    file: "odibi/patterns/fact.py",
    original: "orphan_mask = merged[sk_col].isna()",
    defective: "orphan_mask = merged[dim_key].isna()",
    fails: [
      "golden:star-schema",
      "golden:star-schema/build_facts",
      "golden:star-schema/build_facts/fact_sales",
    ],
    error: "KeyError: 'full_date'",
    focus: "golden:star-schema",
  },
  {
    id: "scd2-start-column",
    kind: "golden",
    file: "odibi/transformers/scd.py",
    original: "    source_df[start_col] = source_df[eff_col]\n    source_df[end_col] = pd.NaT",
    defective: "    source_df[start_col] = source_df[end_col]\n    source_df[end_col] = pd.NaT",
    fails: ["golden:scd2", "golden:scd2/dimensions", "golden:scd2/dimensions/dim_customer"],
    error: "KeyError: 'valid_to'",
    focus: "golden:scd2",
  },
];

/** The defective file's text; throws when the corpus entry no longer matches the source (a different odibi). */
export function injectDefect(source: string, d: Defect): string {
  const count = (hay: string, needle: string) => hay.split(needle).length - 1;
  if (count(source, d.original) !== 1)
    throw new Error(
      `${d.id}: the original text occurs ${count(source, d.original)} times in ${d.file}, not once`,
    );
  const broken = source.replace(d.original, d.defective);
  if (count(broken, d.defective) !== 1)
    throw new Error(
      `${d.id}: the defective text would occur ${count(broken, d.defective)} times in ${d.file}`,
    );
  return broken;
}

// ---- The scripted model ------------------------------------------------------------------------------------------

/** Honest token counts: a quarter of the characters sent and received. */
const tokens = (x: unknown) => Math.ceil(JSON.stringify(x).length / 4);

// biome-ignore lint/suspicious/noExplicitAny: wire JSON
type WireMessage = any;

/** Everything the conversation shows as plain text: message contents, tool results, the model's own tool calls. */
function conversationText(messages: WireMessage[]): string {
  const parts: string[] = [];
  for (const m of messages) {
    if (typeof m.content === "string") parts.push(m.content);
    else if (Array.isArray(m.content))
      for (const c of m.content) parts.push(String(c.text ?? c.content ?? ""));
  }
  return parts.join("\n");
}

interface PastCall {
  name: string;
  args: Record<string, unknown>;
  result: string;
}

/** The model's own earlier tool calls in this conversation, with what each returned. */
function pastCalls(messages: WireMessage[]): PastCall[] {
  const results = new Map<string, string>();
  for (const m of messages) if (m.role === "tool") results.set(m.tool_call_id, String(m.content ?? ""));
  return messages.flatMap((m: WireMessage) =>
    (m.role === "assistant" ? (m.tool_calls ?? []) : []).map((c: WireMessage) => ({
      name: c.function.name,
      args: JSON.parse(c.function.arguments || "{}"),
      result: results.get(c.id) ?? "",
    })),
  );
}

/** A repository file with a line, as tracebacks and locations name them (`odibi/x.py:12`, `odibi/x.py", line 12`). */
const NAMED_LOCATION = /((?:odibi|tests)\/[\w/]+\.py)(?::|", line )(\d+)/g;
const MAX_VIEWS = 3;

/**
 * The scripted model's reply to one request, from that request alone (a real model has nothing else):
 * - it has edited: `finish` (or prose when the edit failed);
 * - the conversation shows the failure's error and every line of the defective code and names its file: the fix;
 * - it shows the error and names repository locations with line numbers: `view_file` on the innermost one not yet
 *   viewed (at most MAX_VIEWS);
 * - otherwise prose: it cannot see the code.
 */
export function corpusModelReply(d: Defect, req: RecordedRequest): ScriptedReply {
  const messages: WireMessage[] = req.body?.messages ?? [];
  const text = conversationText(messages);
  const calls = pastCalls(messages);
  const reply = (r: ScriptedReply): ScriptedReply => {
    const usage = { input: tokens(req.body), output: tokens(r) };
    return { ...r, usage } as ScriptedReply;
  };
  const edit = calls.find((c) => c.name === "replace_in_file");
  if (edit) {
    if (/error|not found|no match/i.test(edit.result.split("\n")[0] ?? ""))
      return reply({ type: "text", text: `My edit failed: ${edit.result.slice(0, 200)}` });
    return reply({
      type: "tools",
      calls: [{ name: "finish", args: { summary: `restored the code in ${d.file}` } }],
    });
  }
  const errorShown = text.includes(d.error);
  const codeShown = d.defective.split("\n").every((line) => text.includes(line.trim()));
  if (errorShown && codeShown && text.includes(d.file))
    return reply({
      type: "tools",
      calls: [
        { name: "replace_in_file", args: { path: d.file, old_text: d.defective, new_text: d.original } },
      ],
    });
  const viewed = new Set(calls.filter((c) => c.name === "view_file").map((c) => `${c.args.path}`));
  if (errorShown && viewed.size < MAX_VIEWS) {
    const named = [...text.matchAll(NAMED_LOCATION)].map((m) => ({ file: m[1]!, line: Number(m[2]) }));
    const next = named.reverse().find((n) => !n.file.startsWith("tests/") && !viewed.has(n.file));
    if (next)
      return reply({
        type: "tools",
        calls: [
          {
            name: "view_file",
            args: { path: next.file, start_line: Math.max(1, next.line - 30), end_line: next.line + 30 },
          },
        ],
      });
  }
  return reply({ type: "text", text: "I cannot see the code that fails, so I cannot fix it." });
}

// ---- One defect, one campaign ------------------------------------------------------------------------------------

export interface CorpusRunOptions {
  venv: string;
  /** The unpacked odibi 3.15.1 sdist. */
  odibiSource: string;
  /** bin/odibi-improve.js (runs dist/: build first). */
  cli: string;
  /** Where to make the Sacred copy and the root (a fresh folder per defect); default a temp folder. */
  workDir?: string;
  maxCycles?: number;
  /** The model attempt runs on an `odibi-improve worker` process through this Redis (`run --queue`). */
  queue?: string;
  log?: (line: string) => void;
}

export interface CorpusResult {
  id: string;
  kind: Defect["kind"];
  /** Master's file is the original again. */
  fixed: boolean;
  /** The cycle that promoted a change, if any. */
  promotedCycle: number | null;
  /** The checks failing on Master before the campaign changed anything, besides PRE_EXISTING (sorted). */
  baselineFails: string[];
  calls: number;
  tokens: number;
  seconds: number;
  exitCode: number | null;
  stopReason: string;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON records as written
const readJson = (file: string): any => JSON.parse(readFileSync(file, "utf8"));

/** init on a copy of the sdist with `d` injected, then `run` against the scripted model; what came of it. */
export async function runCorpusDefect(d: Defect, opts: CorpusRunOptions): Promise<CorpusResult> {
  const work = opts.workDir ?? mkdtempSync(path.join(os.tmpdir(), `corpus-${d.id}-`));
  mkdirSync(work, { recursive: true });
  const sacred = path.join(work, "odibi");
  const root = path.join(work, "improve");
  rmSync(sacred, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
  cpSync(opts.odibiSource, sacred, { recursive: true });
  const target = path.join(sacred, ...d.file.split("/"));
  writeFileSync(target, injectDefect(readFileSync(target, "utf8"), d));

  const env = {
    ODIBI_IMPROVE_ROOT: undefined,
    ODIBI_IMPROVE_VENV: opts.venv,
    OPENAI_COMPATIBLE_API_KEY: `sk-corpus-${process.pid}-${Date.now().toString(36)}`,
  };
  const cli = (args: string[]) =>
    runProcess(process.execPath, [opts.cli, ...args], { cwd: work, env, timeoutMs: 1_800_000 });
  const started = Date.now();
  const init = await cli(["init", "--source", sacred, "--root", root, "--profile", "odibi"]);
  if (init.exitCode !== 0) throw new Error(`${d.id}: init failed\n${init.stdout}\n${init.stderr}`);
  const cfg = path.join(root, "config.yaml");
  // The defects are deterministic: no flake re-runs.
  writeFileSync(cfg, readFileSync(cfg, "utf8").replace("gates:\n", "gates:\n  flake_reruns: 0\n"));

  const server = await startLlmServer((req) => corpusModelReply(d, req));
  const worker = opts.queue
    ? spawn(process.execPath, workerCommand(opts.queue, server.origin, path.join(work, "worker")), {
        cwd: work,
        env: { ...process.env, ...env, ODIBI_IMPROVE_ROOT: "" },
        stdio: "ignore",
      })
    : undefined;
  try {
    const run = await cli([
      "--root",
      root,
      "run",
      "--llm-provider",
      "openai-compatible",
      "--llm-base-url",
      `${server.origin}/v1`,
      "--llm-model",
      "corpus-model",
      "--max-cycles",
      String(opts.maxCycles ?? 1),
      "--focus-transformers",
      d.focus,
      ...(opts.queue ? ["--queue", opts.queue] : []),
    ]);
    opts.log?.(run.stdout.trimEnd());
    if (run.stderr.trim()) opts.log?.(run.stderr.trimEnd());
    const status = readJson(path.join(root, "status.json"));
    const events = readEvents(path.join(root, "events.jsonl")).events;
    const first = reduceCampaigns(events).find((c) => c.id === status.campaign_id)?.firstMaster;
    const baselineFails = (first?.failing ?? [])
      .map((c) => c.id)
      .filter((id) => !PRE_EXISTING.includes(id))
      .sort();
    const journal = reduceJournal(events);
    const promoted = journal.find((e) => e.step === "cycle_end" && e.data?.promoted);
    const masterFile = path.join(root, "master", ...d.file.split("/"));
    const original = readFileSync(path.join(opts.odibiSource, ...d.file.split("/")), "utf8");
    return {
      id: d.id,
      kind: d.kind,
      fixed: existsSync(masterFile) && readFileSync(masterFile, "utf8") === original,
      promotedCycle: promoted ? Number(promoted.cycle) : null,
      baselineFails,
      calls: server.requests.length,
      tokens: Number(status.llm?.tokens ?? 0),
      seconds: Math.round((Date.now() - started) / 1000),
      exitCode: run.exitCode,
      stopReason: String(status.stop_reason ?? ""),
    };
  } finally {
    if (worker && worker.exitCode === null) {
      worker.kill("SIGTERM");
      await once(worker, "exit");
    }
    await server.close();
  }
}
