import { ExitCode, OdibiImproveError } from "../core/errors.js";

export type LlmErrorKind =
  | "missing_key"
  | "auth"
  | "model_not_found"
  | "bad_request"
  | "rate_limited"
  | "unavailable"
  | "timeout"
  | "network"
  | "config"
  | "aborted"
  | "unknown";

/**
 * Every failure talking to a model ends as an LlmError with a kind the brain and the campaign can act on
 * (stop the campaign on `auth`, try later on `unavailable`) and a hint naming what the user must do.
 * Messages are built from our own words plus the provider's message, and are redacted by the caller's
 * redactor before they are written anywhere.
 */
export class LlmError extends OdibiImproveError {
  readonly kind: LlmErrorKind;
  readonly status?: number;
  /** Worth retrying later (rate limit, outage, timeout); false for auth, model-not-found, bad request. */
  readonly transient: boolean;
  constructor(
    kind: LlmErrorKind,
    message: string,
    opts: { hint?: string; status?: number; cause?: unknown; transient?: boolean } = {},
  ) {
    const usage =
      kind === "missing_key" || kind === "auth" || kind === "model_not_found" || kind === "config";
    super(message, {
      exitCode: usage ? ExitCode.usage : ExitCode.error,
      hint: opts.hint,
      cause: opts.cause,
    });
    this.kind = kind;
    this.status = opts.status;
    this.transient = opts.transient ?? ["rate_limited", "unavailable", "timeout", "network"].includes(kind);
  }
}
