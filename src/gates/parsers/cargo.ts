import { z } from "zod";
import type { Check, CheckStatus } from "../../core/types.js";
import { capDetail, capMessage, type ParseContext, parseLocation, relPath } from "./common.js";

const Span = z.object({
  file_name: z.string(),
  line_start: z.number(),
  column_start: z.number(),
  is_primary: z.boolean(),
});
const CompilerMessage = z.object({
  reason: z.literal("compiler-message"),
  message: z.object({
    message: z.string(),
    level: z.string(),
    code: z.object({ code: z.string() }).nullable().optional(),
    spans: z.array(Span),
    rendered: z.string().nullable().optional(),
  }),
});

/**
 * `cargo clippy --message-format=json`: compiler messages of level warning/error (clippy lints and rustc errors)
 * are failing checks, id `lint:file:line:col`. Notes/help attached to a message are not checks of their own.
 */
export function parseClippyJson(text: string, ctx: ParseContext): Check[] {
  const checks: Check[] = [];
  const seen = new Set<string>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let parsed: z.infer<typeof CompilerMessage>;
    try {
      const r = CompilerMessage.safeParse(JSON.parse(line));
      if (!r.success) continue;
      parsed = r.data;
    } catch {
      continue;
    }
    const m = parsed.message;
    if (m.level !== "warning" && m.level !== "error") continue;
    // The summary lines ("1 warning emitted") carry no span.
    const span = m.spans.find((s) => s.is_primary) ?? m.spans[0];
    if (!span) continue;
    const rule = m.code?.code ?? m.level;
    const file = relPath(span.file_name, ctx.workdir);
    const id = `${rule}:${file}:${span.line_start}:${span.column_start}`;
    // The lib and its test target both report the same lint.
    if (seen.has(id)) continue;
    seen.add(id);
    checks.push({
      gate: ctx.gate,
      id,
      status: "fail",
      errorType: rule,
      message: capMessage(m.message),
      file,
      line: span.line_start,
      column: span.column_start,
      detail: capDetail(m.rendered ?? undefined),
    });
  }
  return checks;
}

const RESULT_STATUS: Record<string, CheckStatus> = { ok: "pass", FAILED: "fail", ignored: "skip" };

/**
 * `cargo test` (libtest's human output; its JSON output is unstable-only). cargo names each test binary on stderr
 * (`Running unittests src/lib.rs (…)`, `Doc-tests name`) while the binaries print on stdout (`running N tests`,
 * `test name ... ok|FAILED|ignored`, `---- name stdout ----` blocks with the panic message and location): the
 * n-th `running N tests` section belongs to the n-th target named on stderr. Checks are `target::name`.
 * Compile errors yield no test lines: the caller's crash check covers them.
 */
export function parseCargoTest(stdout: string, stderr: string, ctx: ParseContext): Check[] {
  const targets: string[] = [];
  for (const l of stderr.split("\n")) {
    const running = /^\s*Running (?:unittests |tests )?(\S+)/.exec(l);
    if (running) targets.push(relPath(running[1]!, ctx.workdir));
    const doc = /^\s*Doc-tests (\S+)/.exec(l);
    if (doc) targets.push(`doc:${doc[1]}`);
  }
  const checks: Check[] = [];
  const byName = new Map<string, Check>();
  let section = -1;
  let target = "";
  const lines = stdout.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^running \d+ tests?$/.test(l)) {
      section++;
      target = targets[section] ?? `target${section}`;
      continue;
    }
    const res = /^test (.+?) \.\.\. (ok|FAILED|ignored)(?:,.*)?$/.exec(l);
    if (res) {
      const name = res[1]!;
      const check: Check = { gate: ctx.gate, id: `${target}::${name}`, status: RESULT_STATUS[res[2]!]! };
      checks.push(check);
      byName.set(`${target}\u0000${name}`, check);
      continue;
    }
    const block = /^---- (.+?) stdout ----$/.exec(l);
    if (block) {
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && !/^---- .+ stdout ----$/.test(lines[j]!) && lines[j] !== "failures:"; j++)
        body.push(lines[j]!);
      const check = byName.get(`${target}\u0000${block[1]}`);
      if (check) {
        const text = body.join("\n");
        const at = /panicked at ([^\n]+?):?\n([^\n]*)/.exec(text);
        const loc = at ? parseLocation(at[1]!) : undefined;
        check.errorType = "panic";
        check.message = capMessage(at?.[2] || body.find((b) => b.trim().length > 0) || "test failed");
        if (loc) {
          check.file = relPath(loc.file, ctx.workdir);
          check.line = loc.line;
          check.column = loc.column;
        }
        check.detail = capDetail(text);
      }
      i = j - 1;
    }
  }
  return checks;
}
