import type { UsageAnalysis } from "../analysis/usage-types.js";
import type { Lesson } from "../core/types.js";
import type { LockOwner } from "../environment/lock.js";
import type { AvoidedIssue } from "../memory/types.js";
import type { StatusReading } from "../status/liveness.js";
import type { GateSummary } from "../status/types.js";
import { Html, html, raw } from "./html.js";
import { type CampaignSummary, type CycleRow, FUNNEL_STAGES, type Funnel } from "./model.js";

/** The dashboard's pages and the partials htmx re-fetches; server-rendered, every value escaped. */

export function page(title: string, body: Html, root: string): string {
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · odibi-improve</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/htmx.min.js"></script>
</head><body>
<header><strong><a href="/">odibi-improve</a></strong><a href="/">Dashboard</a><a href="/history">History</a><a href="/memory">Memory</a><a href="/usage">Usage</a>
<span class="small" style="margin-left:auto;opacity:.8">${root}</span></header>
<main>${body}</main>
<script src="/static/app.js"></script>
</body></html>`}`;
}

const q = (campaign: string | undefined) => (campaign ? `?campaign=${encodeURIComponent(campaign)}` : "");

/** The live page: status, controls and bars; cycles; funnel; the log. `campaign`: pinned, else the latest. */
export function dashboardBody(parts: { status: Html; cycles: Html; funnel: Html }, campaign?: string): Html {
  const live = (id: string, what: string, inner: Html) =>
    html`<section id="${id}" hx-get="/partials/${what}${q(campaign)}" hx-trigger="refresh from:body, every 10s" hx-swap="innerHTML">${inner}</section>`;
  // The controls' answers go outside the refreshed status (a refresh must not wipe them).
  return html`${live("status", "status", parts.status)}
<div id="control-result"></div>
${live("cycles", "cycles", parts.cycles)}
${live("funnel", "funnel", parts.funnel)}
<section class="card"><h2>Live log <span class="muted small">(<span id="log-campaign">${campaign ?? "latest campaign"}</span>, <span id="log-state">connecting…</span>)</span></h2>
<pre id="log-lines" data-campaign="${campaign ?? ""}"></pre></section>`;
}

export interface StatusView {
  reading: StatusReading | null;
  /** The campaign shown (the pinned one, or the latest). */
  summary: CampaignSummary | null;
  holder: LockOwner | null;
  command: { gate: string; command: string; since: Date } | null;
  limits: { maxCycles: number; maxHours: number; budgetUsd: number | null };
  now: Date;
}

export const duration = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
};

function bar(label: string, value: number, max: number | null, text: string): Html {
  return html`<div class="bar"><label><span>${label}</span><span>${text}</span></label>
<progress value="${max ? Math.min(value, max) : 0}" max="${max ?? 1}"></progress></div>`;
}

export function statusPartial(v: StatusView): Html {
  const s = v.summary;
  if (!s)
    return html`<div class="cards"><div class="card"><h2>No campaign yet</h2><p>No campaign has run on this root. Start one below, or with <code>odibi-improve run</code>.</p></div>${controls(v)}</div>`;
  const live = v.reading && v.reading.status.campaign_id === s.id ? v.reading : null;
  const state = live?.effective ?? s.state;
  const st = live?.status;
  const hours = st?.elapsed_hours ?? 0;
  const cost = st?.llm.cost_usd ?? s.costUsd;
  const step = st?.step;
  return html`<div class="cards"><div class="card"><h2>Campaign <span id="campaign-id">${s.id}</span></h2>
<dl><dt>status</dt><dd><span class="state ${state}" id="campaign-state">${state}</span>${s.reason ? html` <span class="muted">(${s.reason})</span>` : ""}</dd>
<dt>elapsed</dt><dd>${hours.toFixed(2)} h of ${v.limits.maxHours} h</dd>
<dt>cycles done</dt><dd id="cycles-done">${st?.cycles_completed ?? s.cycles}</dd>
<dt>promoted / rejected</dt><dd><span class="promote" id="promoted">${st?.improvements_promoted ?? s.promoted}</span> / <span class="reject">${st?.improvements_rejected ?? s.rejected}</span></dd>
${state === "running" && step ? html`<dt>step</dt><dd id="current-step">${step.name.replace(/_/g, " ")}${step.cycle ? ` (cycle ${step.cycle})` : ""} · ${duration(v.now.getTime() - Date.parse(step.since))}</dd>` : ""}
${state === "running" && v.command ? html`<dt>running now</dt><dd><code id="current-command">[${v.command.gate}] ${v.command.command}</code> · ${duration(v.now.getTime() - v.command.since.getTime())}</dd>` : ""}
${st?.llm.tokens ? html`<dt>LLM</dt><dd>${st.llm.tokens} tokens, $${cost.toFixed(4)}</dd>` : ""}
</dl>${live?.note ? html`<p class="note">${live.note}</p>` : ""}</div>
<div class="card"><h2>Progress</h2>
${bar("cycles", st?.cycles_completed ?? s.cycles, v.limits.maxCycles, `${st?.cycles_completed ?? s.cycles} / ${v.limits.maxCycles}`)}
${bar("hours", hours, v.limits.maxHours, `${hours.toFixed(2)} / ${v.limits.maxHours}`)}
${bar("money", cost, v.limits.budgetUsd, v.limits.budgetUsd ? `$${cost.toFixed(4)} / $${v.limits.budgetUsd}` : `$${cost.toFixed(4)} (no budget set)`)}
</div>${controls(v)}</div>`;
}

function controls(v: StatusView): Html {
  const h = v.holder;
  const form = html`<form class="start" hx-post="/start" hx-target="#control-result" hx-swap="innerHTML">
<label>max cycles<input type="number" name="maxCycles" min="1" step="1" value="${v.limits.maxCycles}"></label>
<label>max hours<input type="number" name="maxHours" min="0.01" step="any" value="${v.limits.maxHours}"></label>
<label>convergence<input type="number" name="convergence" min="1" step="1" placeholder="config"></label>
<label>goal<input type="text" name="goal" placeholder="(config)"></label>
<label><span><input type="checkbox" name="noLlm" value="1"> no LLM</span></label>
<label><span><input type="checkbox" name="resume" value="1"> resume</span></label>
<button class="primary" id="start" ${h ? raw("disabled") : ""}>Start</button></form>`;
  return html`<div class="card"><h2>Controls</h2>
${h ? html`<p id="holder">Running: pid ${h.pid} on ${h.host} (since ${h.at}).</p><button class="danger" id="stop" hx-post="/stop" hx-target="#control-result" hx-swap="innerHTML">Stop</button>` : html`<p class="muted">No campaign is running.</p>`}
${form}</div>`;
}

function gates(g: GateSummary[] | null): Html {
  if (!g) return html`<span class="muted">—</span>`;
  return html`${g.map(
    (x) =>
      html`<div>${x.gate} <span class="promote">${x.passed}✓</span> ${x.failed ? html`<span class="reject">${x.failed}✗</span>` : ""}${x.error ? html` <span class="reject" title="${x.error}">error</span>` : ""}</div>`,
  )}`;
}

export function cyclesPartial(rows: CycleRow[], reports: Set<string>): Html {
  if (!rows.length) return html`<div class="card"><h2>Cycles</h2><p class="muted">No cycle yet.</p></div>`;
  const row = (r: CycleRow) => {
    const diff = r.commit
      ? html`<a href="/diff/commit/${r.commit}">diff</a>`
      : r.files.length && reports.has(r.report)
        ? html`<a href="/diff/cycle/${r.cycle}">diff</a>`
        : "";
    return html`<tr data-cycle="${r.cycle}"><td>${r.cycle}</td><td>${r.task ?? html`<span class="muted">…</span>`}</td>
<td>${r.approach ? html`${r.approach.kind}<div class="small muted">${r.approach.name}</div>` : "—"}</td>
<td>${gates(r.before)}</td><td>${gates(r.after)}</td>
<td class="${r.action ?? ""}">${r.action ?? html`<span class="muted">running</span>`}<div class="small muted">${r.reason ?? ""}</div></td>
<td class="small">${r.files.join(", ")}</td>
<td>${reports.has(r.report) ? html`<a href="/file/reports/${r.report}">report</a> ` : ""}${r.trajectories.map((t, i) => html`<a href="/file/${t}">trajectory${r.trajectories.length > 1 ? ` ${i + 1}` : ""}</a> `)}${diff}</td></tr>`;
  };
  return html`<div class="card"><h2>Cycles</h2><table id="cycles-table"><thead><tr><th>#</th><th>task</th><th>approach</th><th>gates before</th><th>gates after</th><th>decision</th><th>files</th><th>links</th></tr></thead>
<tbody>${rows.map(row)}</tbody></table></div>`;
}

export function funnelPartial(f: Funnel): Html {
  const max = Math.max(1, f.counts.attempts);
  return html`<div class="card funnel" id="funnel-card"><h2>Acceptance funnel</h2>
${FUNNEL_STAGES.map((s) => html`<div data-stage="${s}"><span class="l">${s}</span><span class="n">${f.counts[s]}</span><span class="b" style="width:${Math.round((30 * f.counts[s]) / max)}rem"></span></div>`)}
<p class="small muted">LLM cost: $${f.costUsd.toFixed(4)}; per promotion: ${f.costPerPromotion === null ? "—" : `$${f.costPerPromotion.toFixed(4)}`}</p></div>`;
}

export function historyBody(rows: CampaignSummary[], reports: Set<string>): Html {
  if (!rows.length) return html`<h2>Campaign history</h2><p class="muted">No campaign on this root yet.</p>`;
  return html`<h2>Campaign history</h2><table id="history"><thead><tr><th>campaign</th><th>started</th><th>ended</th><th>status</th><th>cycles</th><th>promoted</th><th>rejected</th><th>runs</th><th>report</th></tr></thead><tbody>
${[...rows].reverse().map((c) => {
  const report = `campaign_${c.id}_report.md`;
  return html`<tr><td><a href="/?campaign=${encodeURIComponent(c.id)}">${c.id}</a></td><td>${c.startedAt}</td><td>${c.endedAt ?? "—"}</td><td>${c.state}${c.reason ? ` (${c.reason})` : ""}</td><td>${c.cycles}</td><td>${c.promoted}</td><td>${c.rejected}</td><td>${c.runs}</td><td>${reports.has(report) ? html`<a href="/file/reports/${report}">report</a>` : "—"}</td></tr>`;
})}</tbody></table>`;
}

export interface MemoryView {
  lessons: readonly Lesson[];
  avoided: AvoidedIssue[];
  flaky: { gate: string; id: string; occurrences: number }[];
  query: string;
  found: { lesson: Lesson; score: number }[] | null;
  warnings: string[];
}

const lessonRow = (l: Lesson, score?: number) =>
  html`<tr><td>${l.at}</td><td>${l.cycleId}</td><td>${l.task.title}</td><td>${l.approach.kind}:${l.approach.name}</td><td class="${l.outcome === "promoted" ? "promote" : "reject"}">${l.outcome}</td><td class="small">${l.reason ?? ""}</td>${score === undefined ? "" : html`<td>${score.toFixed(2)}</td>`}</tr>`;

export function memoryBody(m: MemoryView): Html {
  const head = html`<tr><th>at</th><th>cycle</th><th>task</th><th>approach</th><th>outcome</th><th>reason</th></tr>`;
  return html`<h2>Memory</h2>${m.warnings.map((w) => html`<p class="note">${w}</p>`)}
<form method="get" action="/memory"><input type="search" name="q" value="${m.query}" placeholder="search lessons"> <button>Search</button></form>
${m.found ? html`<h2>Found</h2><table id="found"><thead><tr><th>at</th><th>cycle</th><th>task</th><th>approach</th><th>outcome</th><th>reason</th><th>score</th></tr></thead><tbody>${m.found.map((f) => lessonRow(f.lesson, f.score))}</tbody></table>` : ""}
<h2>Avoided issues</h2>${m.avoided.length ? html`<table id="avoided"><thead><tr><th>title</th><th>failures</th><th>approaches</th><th>last reason</th></tr></thead><tbody>${m.avoided.map((a) => html`<tr><td>${a.title}</td><td>${a.failures}</td><td>${a.approaches.join(", ")}</td><td class="small">${a.lastReason ?? ""}</td></tr>`)}</tbody></table>` : html`<p class="muted">None.</p>`}
<h2>Flaky tests</h2>${m.flaky.length ? html`<table><thead><tr><th>gate</th><th>check</th><th>occurrences</th></tr></thead><tbody>${m.flaky.map((f) => html`<tr><td>${f.gate}</td><td>${f.id}</td><td>${f.occurrences}</td></tr>`)}</tbody></table>` : html`<p class="muted">None seen.</p>`}
<h2>Lessons <span class="muted small">(${m.lessons.length}, newest first, the last 200)</span></h2>
<table id="lessons"><thead>${head}</thead><tbody>${[...m.lessons]
    .slice(-200)
    .reverse()
    .map((l) => lessonRow(l))}</tbody></table>`;
}

/** A unified diff, its lines coloured. */
export function diffBody(title: string, diff: string, note?: string): Html {
  const cls = (l: string) =>
    l.startsWith("+++") || l.startsWith("---")
      ? ""
      : l.startsWith("+")
        ? "add"
        : l.startsWith("-")
          ? "del"
          : l.startsWith("@@")
            ? "hunk"
            : "";
  return html`<h2>${title}</h2>${note ? html`<p class="note">${note}</p>` : ""}<pre class="diff" id="diff">${diff.split("\n").map((l) => html`<span class="${cls(l)}">${l}</span>\n`)}</pre>`;
}

/** The last usage analysis (`odibi-improve analyze`): failure clusters, patterns, suggestions, skipped stories. */
export function usageBody(a: UsageAnalysis | undefined): Html {
  if (!a)
    return html`<h2>Usage analysis</h2><p class="muted">No analysis yet: run <code>odibi-improve analyze</code> (add <code>--stories DIR</code> for your own stories).</p>`;
  const list = (xs: string[]) => xs.slice(0, 5).join(", ") + (xs.length > 5 ? ` (+${xs.length - 5})` : "");
  return html`<h2>Usage analysis</h2>
<p class="small">${a.stories} stories (${a.nodes} nodes, ${a.failedNodes} failed), ${a.generatedAt}; ${a.skipped.length} malformed skipped. <a href="/file/reports/usage_analysis.md">usage_analysis.md</a></p>
<h2>Failure clusters</h2>${
    a.failures.length
      ? html`<table id="usage-failures"><thead><tr><th>count</th><th>runs</th><th>error</th><th>nodes</th><th>transformers</th><th>first / last seen</th></tr></thead><tbody>${a.failures.map(
          (f) =>
            html`<tr><td>${f.count}</td><td>${f.stories}</td><td><strong>${f.errorType}</strong>: ${f.message}${f.traceback ? html`<details><summary>traceback</summary><pre>${f.traceback}</pre></details>` : ""}</td><td class="small">${list(f.nodes)}</td><td>${f.transformers.join(", ")}</td><td class="small">${f.firstSeen ?? "?"}<br>${f.lastSeen ?? "?"}</td></tr>`,
        )}</tbody></table>`
      : html`<p class="muted">No node failed.</p>`
  }
<h2>Common patterns</h2>${
    a.patterns.length
      ? html`<table id="usage-patterns"><thead><tr><th>sequence</th><th>runs</th><th>pipelines</th></tr></thead><tbody>${a.patterns
          .slice(0, 30)
          .map(
            (p) =>
              html`<tr><td>${p.sequence.join(" → ")}</td><td>${p.count}</td><td class="small">${list(p.pipelines)}</td></tr>`,
          )}</tbody></table>`
      : html`<p class="muted">No operation sequence recurs.</p>`
  }
<h2>Suggestions</h2>${
    a.suggestions.length
      ? html`<ul id="usage-suggestions">${a.suggestions.map((s) => html`<li><strong>${s.title}</strong> <span class="muted small">(${s.kind})</span><ul>${s.evidence.map((e) => html`<li class="small">${e}</li>`)}</ul></li>`)}</ul>`
      : html`<p class="muted">None.</p>`
  }
${a.skipped.length ? html`<h2>Skipped stories</h2><ul>${a.skipped.map((s) => html`<li class="small">${s.file}: ${s.problem.split("\n")[0]}</li>`)}</ul>` : ""}`;
}

export function messageBody(title: string, text: string): Html {
  return html`<h2>${title}</h2><p class="error">${text}</p>`;
}

export { Html };
