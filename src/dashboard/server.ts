import { timingSafeEqual } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { serve } from "@hono/node-server";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import MarkdownIt from "markdown-it";
import { readUsageAnalysis } from "../analysis/report.js";
import { CampaignStore } from "../campaign/record.js";
import { errorMessage, OdibiImproveError } from "../core/errors.js";
import type { ImprovementEnvironment } from "../environment/environment.js";
import { writeFileAtomic } from "../environment/fs-safe.js";
import { git } from "../environment/git.js";
import { openCampaignState } from "../events/read-model.js";
import { CampaignMemory } from "../memory/campaign-memory.js";
import { cycleReportName } from "../status/reports.js";
import { APP_JS, CSS, htmxSource } from "./assets.js";
import { checkedCampaignId, FileMissing, PathRefused, servedFile } from "./files.js";
import { html, raw } from "./html.js";
import { runArgs, runningCampaign, startDetachedRun } from "./launch.js";
import { campaignsOf, cyclesOf, funnelOf } from "./model.js";
import { currentCommand, fileSize, readLinesFrom, tailStart } from "./tail.js";
import {
  cyclesPartial,
  dashboardBody,
  diffBody,
  funnelPartial,
  historyBody,
  memoryBody,
  messageBody,
  page,
  statusPartial,
  usageBody,
} from "./views.js";

export interface DashboardOptions {
  env: ImprovementEnvironment;
  /** Required on every request when set (`?token=`, then a cookie; or `Authorization: Bearer`). */
  token?: string;
  /** Bound to a loopback address: requests must name a loopback host (no DNS rebinding). */
  loopback: boolean;
  /** How often the live log and the event log are polled (ms). */
  pollMs?: number;
}

const markdown = new MarkdownIt({ html: false, linkify: false });
/** The most of a file the viewer shows (its end). */
const VIEW_MAX_BYTES = 1024 * 1024;

/** The dashboard's web application (routes below); `serveDashboard` puts it on a port. */
export function createDashboard(opts: DashboardOptions): Hono {
  const { env } = opts;
  const root = env.root;
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof PathRefused)
      return c.html(page("Refused", messageBody("Refused", err.message), root), 400);
    if (err instanceof FileMissing)
      return c.html(page("Not found", messageBody("Not found", err.message), root), 404);
    return c.html(page("Error", messageBody("Error", errorMessage(err)), root), 500);
  });
  app.use(guardRequests(opts));
  routesStatic(app);
  routesLive(app, opts);
  routesPages(app, env);
  routesFiles(app, env);
  routesControls(app, env);
  app.notFound((c) => c.html(page("Not found", messageBody("Not found", c.req.path), root), 404));
  return app;
}

const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i;

/** Host (loopback only), token, traversal in the raw URL, and POSTs only from the page (htmx's header). */
function guardRequests(opts: DashboardOptions): MiddlewareHandler {
  return async (c, next) => {
    if (opts.loopback && !LOOPBACK_HOST.test(c.req.header("host") ?? new URL(c.req.url).host))
      return c.text("refused: this dashboard answers to a loopback host name only", 403);
    if (opts.token && !tokenOk(c, opts.token))
      return c.text("refused: a token is required (open the URL `odibi-improve ui` printed)", 401);
    // The request line as sent (node's, before URL parsing drops `..` segments), else the parsed URL's path.
    const sent = (c.env as { incoming?: { url?: string } } | undefined)?.incoming?.url ?? c.req.raw.url;
    const rawPath = sent.replace(/^[a-z]+:\/\/[^/]*/i, "").split("?")[0]!;
    let decoded: string;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      throw new PathRefused("refused path: bad percent-encoding");
    }
    if (/(^|[/\\])\.\.?([/\\]|$)/.test(decoded) || decoded.includes("\0") || decoded.includes("\\"))
      throw new PathRefused(`refused path (traversal): ${JSON.stringify(decoded)}`);
    if (c.req.method === "POST" && c.req.header("hx-request") !== "true")
      return c.text("refused: controls are posted by the dashboard page (HX-Request header)", 403);
    await next();
  };
}

function tokenOk(c: Context, token: string): boolean {
  const same = (v: string | undefined) =>
    v !== undefined && v.length === token.length && timingSafeEqual(Buffer.from(v), Buffer.from(token));
  const bearer = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
  if (same(bearer) || same(getCookie(c, "odibi_improve_token"))) return true;
  if (!same(c.req.query("token"))) return false;
  setCookie(c, "odibi_improve_token", token, { httpOnly: true, sameSite: "Strict", path: "/" });
  return true;
}

function routesStatic(app: Hono): void {
  const cached = { "Cache-Control": "max-age=3600" };
  app.get("/static/htmx.min.js", (c) =>
    c.body(htmxSource(), 200, { "Content-Type": "text/javascript", ...cached }),
  );
  app.get("/static/app.js", (c) => c.body(APP_JS, 200, { "Content-Type": "text/javascript" }));
  app.get("/static/app.css", (c) => c.body(CSS, 200, { "Content-Type": "text/css" }));
}

/** The read model, parsed again only when the event log or status.json changed. */
function stateReader(root: string) {
  let key = "";
  let value: ReturnType<typeof openCampaignState> | undefined;
  const stamp = (f: string) => {
    try {
      const s = statSync(f);
      return `${s.size}:${s.mtimeMs}`;
    } catch {
      return "-";
    }
  };
  return () => {
    const k = `${stamp(path.join(root, "events.jsonl"))}|${stamp(path.join(root, "status.json"))}`;
    if (k !== key || !value) {
      value = openCampaignState(root);
      key = k;
    }
    return value;
  };
}

function reportNames(env: ImprovementEnvironment): Set<string> {
  return new Set(existsSync(env.layout.reports) ? readdirSync(env.layout.reports) : []);
}

function routesLive(app: Hono, opts: DashboardOptions): void {
  const { env } = opts;
  const state = stateReader(env.root);
  const pinned = (c: Context) => {
    const id = c.req.query("campaign");
    return id ? checkedCampaignId(id) : undefined;
  };
  const parts = (campaign: string | undefined) => {
    const s = state();
    const campaigns = campaignsOf(s.events);
    const summary =
      campaigns.find((x) => x.id === campaign) ?? (campaign ? null : (campaigns.at(-1) ?? null));
    if (campaign && !summary) throw new FileMissing(`no campaign ${campaign} on this root`);
    const id = summary?.id;
    const stop = env.config.stop_conditions;
    const status = statusPartial({
      reading: s.status,
      summary,
      holder: runningCampaign(env.root),
      command: id ? currentCommand(path.join(env.layout.logs, `${id}.log`)) : null,
      limits: {
        maxCycles: summary?.limits?.maxCycles ?? stop.max_cycles,
        maxHours: summary?.limits?.maxHours ?? stop.max_hours,
        budgetUsd: env.config.llm.max_cost_usd ?? null,
      },
      now: new Date(),
    });
    const cycles = cyclesPartial(id ? cyclesOf(s.events, id, env.layout) : [], reportNames(env));
    const funnel = funnelPartial(funnelOf(s.events, id ?? ""));
    return { status, cycles, funnel };
  };
  app.get("/", (c) => c.html(page("Dashboard", dashboardBody(parts(pinned(c)), pinned(c)), env.root)));
  app.get("/partials/status", (c) => c.html(parts(pinned(c)).status.value));
  app.get("/partials/cycles", (c) => c.html(parts(pinned(c)).cycles.value));
  app.get("/partials/funnel", (c) => c.html(parts(pinned(c)).funnel.value));
  app.get("/sse", (c) => liveLog(c, opts, pinned(c), () => state().status?.status.campaign_id));
}

/**
 * The live log over SSE: the campaign's run log from a byte offset (a new reader starts at its last 64 KiB), whole
 * lines, each batch an event whose id is `<campaign>:<offset>` so a reconnect (Last-Event-ID) resumes where it
 * left off; `state` when the event log or status.json changed; `campaign` when the followed campaign changes.
 */
function liveLog(
  c: Context,
  opts: DashboardOptions,
  pinned: string | undefined,
  latest: () => string | undefined,
) {
  const poll = opts.pollMs ?? 250;
  const resume = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(\d+)$/.exec(c.req.header("last-event-id") ?? "");
  return streamSSE(c, async (stream) => {
    let closed = c.req.raw.signal.aborted;
    const close = () => {
      closed = true;
    };
    stream.onAbort(close);
    c.req.raw.signal.addEventListener("abort", close);
    let pingAt = Date.now();
    let campaign = resume && !resume[1]!.includes("..") ? resume[1] : undefined;
    let offset = resume ? Number(resume[2]) : 0;
    let stateKey = "";
    const logFile = () => path.join(opts.env.layout.logs, `${campaign}.log`);
    while (!closed) {
      const now = pinned ?? latest();
      if (now && now !== campaign) {
        campaign = now;
        offset = tailStart(logFile());
        await stream.writeSSE({ event: "campaign", data: campaign });
        if (offset > 0)
          await stream.writeSSE({
            event: "cut",
            data: `${offset} earlier bytes not shown: /file/logs/${campaign}.log`,
          });
      }
      if (campaign) {
        const r = readLinesFrom(logFile(), offset);
        if (r.text)
          await stream.writeSSE({
            event: "log",
            id: `${campaign}:${r.next}`,
            data: r.text.replace(/\n$/, ""),
          });
        offset = r.next;
      }
      const key = `${fileSize(opts.env.layout.events)}:${statMtime(opts.env.layout.status)}`;
      if (key !== stateKey) {
        if (stateKey) await stream.writeSSE({ event: "state", data: key });
        stateKey = key;
      }
      // A ping now and then: writing to a reader that went away ends this loop.
      if (Date.now() - pingAt > 15_000) {
        await stream.writeSSE({ event: "ping", data: "" });
        pingAt = Date.now();
      }
      await stream.sleep(poll);
    }
  });
}

const statMtime = (f: string) => {
  try {
    return statSync(f).mtimeMs;
  } catch {
    return 0;
  }
};

function routesPages(app: Hono, env: ImprovementEnvironment): void {
  const state = stateReader(env.root);
  app.get("/history", (c) =>
    c.html(page("History", historyBody(campaignsOf(state().events), reportNames(env)), env.root)),
  );
  app.get("/usage", (c) => c.html(page("Usage", usageBody(readUsageAnalysis(env.layout.reports)), env.root)));
  app.get("/memory", (c) => {
    const query = (c.req.query("q") ?? "").slice(0, 200);
    const mem = new CampaignMemory(env.layout.memory, { guard: env.guard, readOnly: true });
    try {
      const flaky = new CampaignStore(env).list().flatMap((r) => r.flaky);
      const body = memoryBody({
        lessons: mem.allLessons(),
        avoided: mem.avoidedIssues(),
        flaky,
        query,
        found: query.trim() ? mem.querySimilar(query, 20) : null,
        warnings: mem.warnings,
      });
      return c.html(page("Memory", body, env.root));
    } finally {
      mem.close();
    }
  });
}

function routesFiles(app: Hono, env: ImprovementEnvironment): void {
  app.get("/file/*", (c) => {
    const rel = decodeURIComponent(c.req.path.slice("/file/".length));
    const file = servedFile(env.root, rel);
    const name = path.basename(file);
    if (name.endsWith(".md")) {
      const body = `<article class="report" id="report">${markdown.render(readFileSync(file, "utf8"))}</article>`;
      return c.html(page(name, raw(body), env.root));
    }
    const size = fileSize(file);
    const from = Math.max(0, size - VIEW_MAX_BYTES);
    const text = readLinesFrom(file, from === 0 ? 0 : tailStart(file, VIEW_MAX_BYTES), VIEW_MAX_BYTES).text;
    const note = from > 0 ? `${size} bytes: the last ${VIEW_MAX_BYTES} shown` : "";
    return c.html(
      page(
        name,
        html`<h2>${rel}</h2>${note ? html`<p class="note">${note}</p>` : ""}<pre id="file">${text}</pre>`,
        env.root,
      ),
    );
  });
  app.get("/diff/commit/:sha", async (c) => {
    const sha = c.req.param("sha");
    if (!/^[0-9a-f]{7,64}$/.test(sha)) throw new PathRefused(`not a commit: ${JSON.stringify(sha)}`);
    let diff: string;
    try {
      diff = await git(env.layout.master, [
        "show",
        "--stat",
        "--patch",
        "--format=commit %H%n%n%B",
        sha,
        "--",
      ]);
    } catch {
      throw new FileMissing(`no commit ${sha} on Master`);
    }
    return c.html(
      page(`diff ${sha.slice(0, 10)}`, diffBody(`Promotion ${sha.slice(0, 10)}`, diff), env.root),
    );
  });
  app.get("/diff/cycle/:n", (c) => {
    const n = Number(c.req.param("n"));
    if (!Number.isInteger(n) || n <= 0 || n > 1_000_000) throw new PathRefused("not a cycle number");
    const file = servedFile(env.root, `reports/${cycleReportName(n)}`);
    const diff = candidateDiff(readFileSync(file, "utf8"));
    if (diff === null) throw new FileMissing(`cycle ${n}'s report has no diff`);
    const cut = /_Diff cut: ([^_]*)_/.exec(readFileSync(file, "utf8"))?.[1];
    return c.html(page(`cycle ${n} diff`, diffBody(`Cycle ${n}: the candidate's diff`, diff, cut), env.root));
  });
}

/** The candidate's diff in a cycle report (its `## Diff` section's fenced block), or null. */
export function candidateDiff(report: string): string | null {
  const section = report.split(/^## Diff$/m)[1];
  if (!section) return null;
  const m = /^(`{3,})diff\n([\s\S]*?)\n\1$/m.exec(section);
  return m ? m[2]! : null;
}

function routesControls(app: Hono, env: ImprovementEnvironment): void {
  const fragment = (c: Context, text: string, status: 200 | 409 | 400 = 200) =>
    c.html(
      html`<p class="${status === 200 ? "note" : "error"}" id="control-message">${text}</p>`.value,
      status,
      {
        "HX-Trigger": "refresh",
      },
    );
  app.post("/start", async (c) => {
    const form = await c.req.parseBody();
    const num = (k: string) => {
      const v = String(form[k] ?? "").trim();
      if (!v) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new OdibiImproveError(`${k} takes a positive number`);
      return n;
    };
    try {
      const r = await startDetachedRun(
        env.root,
        env.guard,
        runArgs({
          maxCycles: num("maxCycles"),
          maxHours: num("maxHours"),
          convergence: num("convergence"),
          goal: String(form.goal ?? "").trim() || undefined,
          llm: form.noLlm ? false : undefined,
          resume: Boolean(form.resume),
        }),
        { waitMs: 5000 },
      );
      return fragment(
        c,
        `started: pid ${r.pid}${r.campaign ? `, campaign ${r.campaign}` : ""}; log ${r.log ?? r.output}`,
      );
    } catch (e) {
      return fragment(c, errorMessage(e), runningCampaign(env.root) ? 409 : 400);
    }
  });
  app.post("/stop", (c) => {
    writeFileAtomic(
      env.guard,
      env.layout.stopRequest,
      `stop requested at ${new Date().toISOString()} (dashboard)\n`,
    );
    const h = runningCampaign(env.root);
    return fragment(
      c,
      h
        ? `stop requested: pid ${h.pid} stops after its current step`
        : "stop requested (no campaign is running now; the request is cleared when the next one starts)",
    );
  });
}

/** Whether `host` is a loopback address or name (the only hosts served without a token). */
export function isLoopbackHost(host: string): boolean {
  return /^(localhost|127\.\d+\.\d+\.\d+|::1|\[::1\])$/i.test(host);
}

/** The dashboard on `host:port` (port 0: any free port); resolves once it listens, with its URL. */
export function serveDashboard(
  opts: DashboardOptions & { host: string; port: number },
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const app = createDashboard(opts);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, (info: AddressInfo) => {
      const host = info.address.includes(":") ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}/`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
    server.once("error", reject);
  });
}
