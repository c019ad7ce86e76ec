import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/** The dashboard's static files, served by the server itself (no CDN): htmx from the package's dependencies. */

let htmx: string | undefined;
export function htmxSource(): string {
  htmx ??= readFileSync(createRequire(import.meta.url).resolve("htmx.org/dist/htmx.min.js"), "utf8");
  return htmx;
}

export const CSS = `
:root{--ok:#1a7f37;--bad:#cf222e;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328}
header{display:flex;gap:1.5rem;align-items:center;padding:.6rem 1.2rem;background:#24292f;color:#fff}
header a{color:#fff;text-decoration:none}header strong{font-size:1.05rem}
main{padding:1rem 1.2rem;max-width:90rem;margin:auto}
section{margin-bottom:1.2rem}
h2{font-size:1.05rem;margin:.2rem 0 .5rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1rem}
.card{border:1px solid var(--line);border-radius:6px;padding:.8rem 1rem;background:#fff}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:0}dt{color:var(--muted)}dd{margin:0}
.state{font-weight:600;padding:.05rem .4rem;border-radius:4px;background:var(--bg)}
.state.running{background:#ddf4ff}.state.completed{background:#dafbe1}.state.crashed,.state.failed{background:#ffebe9}
.bar{margin:.35rem 0}.bar label{display:flex;justify-content:space-between;color:var(--muted)}
progress{width:100%;height:.7rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid var(--line);padding:.25rem .45rem;vertical-align:top;text-align:left}
th{background:var(--bg)}
.promote,.promoted{color:var(--ok);font-weight:600}.reject,.rejected{color:var(--bad);font-weight:600}
.muted{color:var(--muted)}.small{font-size:.85em}
.funnel div{display:flex;align-items:center;gap:.5rem;margin:.15rem 0}
.funnel span.n{width:2.5rem;text-align:right}.funnel span.b{background:#54aeff;height:.9rem;border-radius:2px}
.funnel span.l{width:7rem;color:var(--muted)}
pre{background:var(--bg);padding:.6rem;overflow:auto;border-radius:6px}
#log-lines{height:22rem;margin:0;font-size:12px;white-space:pre-wrap}
.diff .add{color:var(--ok)}.diff .del{color:var(--bad)}.diff .hunk{color:#8250df}
form.start{display:flex;flex-wrap:wrap;gap:.4rem .8rem;align-items:end}
form.start label{display:flex;flex-direction:column;font-size:.85em;color:var(--muted)}
form.start input[type=number]{width:5.5rem}
button{padding:.3rem .8rem;border-radius:6px;border:1px solid var(--line);background:#f6f8fa;cursor:pointer}
button.primary{background:#1f883d;color:#fff;border-color:#1f883d}button.danger{background:#cf222e;color:#fff;border-color:#cf222e}
button[disabled]{opacity:.5;cursor:not-allowed}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:.3rem .6rem;border-radius:6px}
.error{background:#ffebe9;border:1px solid var(--bad);padding:.3rem .6rem;border-radius:6px}
.report{max-width:75rem}.report table{width:auto}
`;

/**
 * The page's script: 4xx answers are shown (a refused start names the holder), and the live log over SSE. The
 * browser's EventSource resumes after a reconnect with Last-Event-ID (the campaign and the log's byte offset).
 * Every change of the event log triggers `refresh` on the body, which the status, cycles and funnel re-fetch on.
 */
export const APP_JS = `
htmx.config.responseHandling = [{code:"204", swap:false}, {code:"...", swap:true}];
(function () {
  var pre = document.getElementById("log-lines");
  if (!pre || !window.EventSource) return;
  var url = "/sse" + (pre.dataset.campaign ? "?campaign=" + encodeURIComponent(pre.dataset.campaign) : "");
  var es = new EventSource(url);
  var MAX = 400000;
  function append(text) {
    var stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
    pre.textContent += text + "\\n";
    if (pre.textContent.length > MAX) pre.textContent = pre.textContent.slice(-MAX);
    if (stick) pre.scrollTop = pre.scrollHeight;
  }
  es.addEventListener("campaign", function (e) { pre.textContent = ""; document.getElementById("log-campaign").textContent = e.data; });
  es.addEventListener("cut", function (e) { append("… " + e.data); });
  es.addEventListener("log", function (e) { append(e.data); });
  es.addEventListener("state", function () { htmx.trigger(document.body, "refresh"); });
  es.onopen = function () { document.getElementById("log-state").textContent = "live"; };
  es.onerror = function () { document.getElementById("log-state").textContent = "reconnecting…"; };
})();
`;
