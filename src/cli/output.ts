import { ExitCode, errorMessage, OdibiImproveError } from "../core/errors.js";
import { processRedactor } from "../llm/redact.js";

/**
 * How a command talks: human lines, or with --json JSON lines on stdout: a stream's events (`run`, `demo`, `gates`
 * progress), then one result object, always the last line: `{type: "result", command, exitCode, …}` (the shapes are
 * in json-schemas.ts). Secrets of the environment are redacted.
 */
export interface Output {
  json: boolean;
  line(text: string): void;
  warn(text: string): void;
  /** A stream's event: one JSON line `{type, at, …}` with --json, nothing otherwise (the human text is a `line`). */
  event(data: { type: string } & Record<string, unknown>): void;
  /** The command's result (human text, or its JSON line), and the exit code the process ends with. */
  result(human: string, data: object, exitCode?: ExitCode): void;
}

function jsonLine(data: object): string {
  return processRedactor().text(`${JSON.stringify(data)}\n`);
}

export function makeOutput(json: boolean, command: string): Output {
  return {
    json,
    line: (t) => {
      if (!json) process.stdout.write(processRedactor().text(`${t}\n`));
    },
    warn: (t) => process.stderr.write(processRedactor().text(`warning: ${t}\n`)),
    event: (data) => {
      if (json) process.stdout.write(jsonLine({ ...data, at: new Date().toISOString() }));
    },
    result: (human, data, exitCode = ExitCode.ok) => {
      process.stdout.write(
        json
          ? jsonLine({ type: "result", command, exitCode, ...data })
          : processRedactor().text(`${human}\n`),
      );
      process.exitCode = exitCode;
    },
  };
}

/**
 * Print an error the way a user can act on it (with --json also as the last JSON line, `{type: "error", …}`);
 * return its exit code: the error's own, 4 (the tool failed) for anything unexpected.
 */
export function reportError(err: unknown, json: boolean, command: string): number {
  const known = err instanceof OdibiImproveError;
  const exitCode = known ? err.exitCode : ExitCode.error;
  if (json) writeErrorJson(err, command, exitCode);
  if (known) process.stderr.write(`error: ${err.message}\n${err.hint ? `  → ${err.hint}\n` : ""}`);
  else
    process.stderr.write(
      `error: ${errorMessage(err)}\n${err instanceof Error && err.stack ? `${err.stack}\n` : ""}`,
    );
  return exitCode;
}

/** The error's JSON line: `{type: "error", command, exitCode, error, message, hint?}`. */
export function writeErrorJson(err: unknown, command: string, exitCode: number): void {
  process.stdout.write(
    jsonLine({
      type: "error",
      command,
      exitCode,
      error: err instanceof Error ? err.name : "Error",
      message: errorMessage(err),
      ...(err instanceof OdibiImproveError && err.hint ? { hint: err.hint } : {}),
    }),
  );
}
