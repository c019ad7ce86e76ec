import { ExitCode, errorMessage, OdibiImproveError } from "../core/errors.js";
import { processRedactor } from "../llm/redact.js";

/** How a command talks: human lines, or one JSON document with --json. Secrets of the environment are redacted. */
export interface Output {
  json: boolean;
  line(text: string): void;
  warn(text: string): void;
  result(human: string, data: unknown): void;
}

export function makeOutput(json: boolean): Output {
  return {
    json,
    line: (t) => {
      if (!json) process.stdout.write(processRedactor().text(`${t}\n`));
    },
    warn: (t) => process.stderr.write(processRedactor().text(`warning: ${t}\n`)),
    result: (human, data) =>
      process.stdout.write(
        processRedactor().text(json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`),
      ),
  };
}

/** Print an error the way a user can act on it; return its exit code. */
export function reportError(err: unknown, json: boolean): number {
  if (err instanceof OdibiImproveError) {
    if (json)
      process.stdout.write(
        `${JSON.stringify({ error: err.name, message: err.message, hint: err.hint, exitCode: err.exitCode })}\n`,
      );
    process.stderr.write(`error: ${err.message}\n${err.hint ? `  → ${err.hint}\n` : ""}`);
    return err.exitCode;
  }
  process.stderr.write(
    `error: ${errorMessage(err)}\n${err instanceof Error && err.stack ? `${err.stack}\n` : ""}`,
  );
  return ExitCode.failure;
}
