import { z } from "zod";
import type { Check, CheckStatus } from "../../core/types.js";
import { capDetail, capMessage, type ParseContext, parseLocation, relPath } from "./common.js";

const GoEvent = z.object({
  Action: z.string(),
  Package: z.string().optional(),
  ImportPath: z.string().optional(),
  Test: z.string().optional(),
  Output: z.string().optional(),
  Elapsed: z.number().optional(),
  FailedBuild: z.string().optional(),
});

const ACTION_STATUS: Record<string, CheckStatus> = { pass: "pass", fail: "fail", skip: "skip" };

/**
 * `go test -json`: one check per test (`pkg/path.TestName`, subtests `TestA/sub`), plus one failing check per
 * package that failed without a failing test (build failure, panic in init, TestMain exit): never a silent pass.
 * Non-JSON lines (go's own errors on stderr mixed in) are ignored here; the caller adds a crash check when the
 * exit code says failure and no failing check was found.
 */
export function parseGoTestJson(text: string, ctx: ParseContext): Check[] {
  const output = new Map<string, string[]>();
  const buildOutput = new Map<string, string[]>();
  const checks: Check[] = [];
  const failedPackages: Array<{ pkg: string; build?: string; elapsed?: number }> = [];
  const pkgHasFailingTest = new Set<string>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let ev: z.infer<typeof GoEvent>;
    try {
      const parsed = GoEvent.safeParse(JSON.parse(line));
      if (!parsed.success) continue;
      ev = parsed.data;
    } catch {
      continue;
    }
    if (ev.Action === "build-output" && ev.ImportPath) {
      const key = ev.ImportPath.replace(/ \[.*\]$/, "");
      buildOutput.set(key, [...(buildOutput.get(key) ?? []), ev.Output ?? ""]);
      continue;
    }
    const pkg = ev.Package;
    if (!pkg) continue;
    const key = ev.Test ? `${pkg}.${ev.Test}` : pkg;
    if (ev.Action === "output") {
      output.set(key, [...(output.get(key) ?? []), ev.Output ?? ""]);
      continue;
    }
    const status = ACTION_STATUS[ev.Action];
    if (!status) continue;
    if (!ev.Test) {
      if (status === "fail") failedPackages.push({ pkg, build: ev.FailedBuild, elapsed: ev.Elapsed });
      continue;
    }
    const out = (output.get(key) ?? []).join("");
    const check: Check = {
      gate: ctx.gate,
      id: key,
      status,
      durationMs: ev.Elapsed === undefined ? undefined : Math.round(ev.Elapsed * 1000),
    };
    if (status === "fail") {
      pkgHasFailingTest.add(pkg);
      // The test's own messages: `    calc_test.go:13: Mul(2, 3) = 5, want 6`.
      const msgLines = out
        .split("\n")
        .filter((l) => /^\s+\S+\.go:\d+:/.test(l))
        .map((l) => l.trim());
      const loc = msgLines[0] ? parseLocation(msgLines[0]) : undefined;
      check.errorType = /panic: /.test(out) ? "panic" : "TestFailure";
      check.message = capMessage(
        msgLines[0]?.replace(/^\S+\.go:\d+: /, "") ??
          out.split("\n").find((l) => /panic:/.test(l)) ??
          "test failed",
      );
      check.file = loc?.file;
      check.line = loc?.line;
      check.detail = capDetail(out);
    } else if (status === "skip") {
      check.message = capMessage(
        out
          .split("\n")
          .find((l) => /^\s+\S+\.go:\d+:/.test(l))
          ?.trim()
          .replace(/^\S+\.go:\d+: /, ""),
      );
    }
    checks.push(check);
  }
  // A failed parent test is implied by its failed subtest: keep both (the parent is what -run selects).
  for (const { pkg, build } of failedPackages) {
    if (pkgHasFailingTest.has(pkg)) continue;
    const lines = build ? (buildOutput.get(build) ?? []) : (output.get(pkg) ?? []);
    const text = lines.join("");
    const first = text.split("\n").find((l) => parseLocation(l) !== undefined && !l.startsWith("#"));
    const loc = first ? parseLocation(first) : undefined;
    checks.push({
      gate: ctx.gate,
      id: pkg,
      status: "fail",
      errorType: build ? "BuildFailed" : "PackageFailed",
      message: capMessage(first?.trim() ?? (build ? "build failed" : "package failed")),
      file: loc ? relPath(loc.file, ctx.workdir) : undefined,
      line: loc?.line,
      column: loc?.column,
      detail: capDetail(text),
    });
  }
  return checks;
}

/**
 * `go vet` diagnostics on stderr: `calc/calc.go:10:28: fmt.Sprintf format %s reads arg #2, but call has 1 arg`,
 * type errors prefixed `vet: `. Lines starting with `#` name the package.
 */
export function parseGoVet(stderr: string, ctx: ParseContext): Check[] {
  const checks: Check[] = [];
  for (const raw of stderr.split("\n")) {
    const typeError = raw.startsWith("vet: ");
    const line = typeError ? raw.slice(5) : raw;
    const m = /^((?:[A-Za-z]:)?[^\s:]+\.go):(\d+)(?::(\d+))?: (.*)$/.exec(line);
    if (!m) continue;
    const file = relPath(m[1]!, ctx.workdir);
    const ln = Number(m[2]);
    const col = m[3] === undefined ? undefined : Number(m[3]);
    const rule = typeError ? "typecheck" : "vet";
    checks.push({
      gate: ctx.gate,
      id: `${rule}:${file}:${ln}:${col ?? 0}`,
      status: "fail",
      errorType: rule,
      message: capMessage(m[4]),
      file,
      line: ln,
      column: col,
    });
  }
  return checks;
}
