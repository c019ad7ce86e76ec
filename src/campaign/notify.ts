import { errorMessage } from "../core/errors.js";
import { describeEnd, runProcess, splitCommandLine } from "../exec/run-process.js";

/** What a campaign's end tells `notify` (config.yaml): as JSON on stdin / in the POST body, and in variables. */
export interface EndNotice {
  campaign: string;
  root: string;
  /** The state status.json says (completed, stopped, failed). */
  status: string;
  reason: string;
  cycles: number;
  promoted: number;
  rejected: number;
  elapsed_hours: number;
  cost_usd: number;
  report: string;
}

export interface NotifyConfig {
  command?: string;
  webhook?: string;
  timeout_s: number;
}

/**
 * The notification hook at the end of a campaign run: `notify.command` runs (no shell) with the notice as JSON on
 * stdin and as ODIBI_IMPROVE_* variables; `notify.webhook` gets it as a JSON POST. A failure is a log line, never a
 * failed campaign.
 */
export async function notifyEnd(
  cfg: NotifyConfig,
  notice: EndNotice,
  log: (line: string) => void,
): Promise<void> {
  const body = JSON.stringify(notice);
  const timeoutMs = cfg.timeout_s * 1000;
  if (cfg.command) {
    const [file, ...args] = splitCommandLine(cfg.command);
    const r = await runProcess(file!, args, {
      cwd: notice.root,
      input: body,
      timeoutMs,
      env: {
        ODIBI_IMPROVE_CAMPAIGN: notice.campaign,
        ODIBI_IMPROVE_STATUS: notice.status,
        ODIBI_IMPROVE_REASON: notice.reason,
        ODIBI_IMPROVE_REPORT: notice.report,
      },
    });
    log(
      r.exitCode === 0
        ? `notify: ${cfg.command} ran`
        : `notify: ${cfg.command} failed (${describeEnd(r)}): ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
    );
  }
  if (cfg.webhook) {
    try {
      const res = await fetch(cfg.webhook, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "odibi-improve" },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      log(res.ok ? `notify: webhook answered ${res.status}` : `notify: webhook failed: HTTP ${res.status}`);
    } catch (e) {
      log(`notify: webhook failed: ${errorMessage(e)}`);
    }
  }
}
