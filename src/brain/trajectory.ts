import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { Redactor } from "../llm/redact.js";

export type TrajectoryEvent =
  | {
      type: "attempt_start";
      attempt: number;
      provider: string;
      model: string;
      endpoint: string;
      limits: unknown;
    }
  | { type: "prompt"; system: string; user: string }
  | { type: "request"; step: number }
  | { type: "retry"; step: number; retry: number; delayMs: number; error: string }
  | {
      type: "response";
      step: number;
      text: string;
      finishReason: string;
      toolCalls: unknown[];
      usage: { inputTokens: number; outputTokens: number };
      costUsd?: number;
      retries: number;
      warnings?: string[];
    }
  | { type: "tool_call"; step: number; id: string; tool: string; input: unknown; invalid?: string }
  | {
      type: "tool_result";
      step: number;
      id: string;
      tool: string;
      output: string;
      isError: boolean;
      durationMs: number;
    }
  | { type: "nudge"; step: number; text: string }
  | { type: "gates"; scope: string; passed: boolean; failures: string[] }
  | { type: "error"; kind: string; message: string }
  | {
      type: "attempt_end";
      attempt: number;
      stopReason: string;
      summary?: string;
      filesChanged: string[];
      tokens: number;
      costUsd?: number;
    };

/**
 * One attempt's steps as JSON lines, `<dir>/<attempt>.jsonl`. Appended synchronously so a crash leaves every step
 * written so far; every value passes through the redactor first.
 */
export class TrajectoryWriter {
  readonly file: string;
  constructor(
    dir: string,
    attempt: number,
    private readonly redactor: Redactor,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${attempt}.jsonl`);
  }

  write(event: TrajectoryEvent): void {
    const line = JSON.stringify(this.redactor.value({ at: new Date().toISOString(), ...event }));
    appendFileSync(this.file, `${line}\n`);
  }
}
