import { spawn } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { request as httpRequest } from "node:http";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { stagesPassed } from "../src/dashboard/model.js";
import { candidateDiff, createDashboard, serveDashboard } from "../src/dashboard/server.js";
import { readLinesFrom } from "../src/dashboard/tail.js";
import { ImprovementEnvironment } from "../src/environment/environment.js";
import { git } from "../src/environment/git.js";
import { cli, LINT_FIXTURE } from "./campaign-cli.js";
import { CLI, makeGitRepo, tempDir } from "./helpers.js";

/**
 * Every route of the dashboard through `app.request()` (Hono's in-process requests) on real roots: one with no
 * campaign, one with a finished campaign and a crashed one after it (real CLI runs on a python fixture).
 */

async function initRoot(base: string): Promise<string> {
  const sacred = await makeGitRepo(path.join(base, "repo"), LINT_FIXTURE);
  const root = path.join(base, "improve");
  expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
  return root;
}

let empty: string;
let root: string;
let first: string;
let crashed: string;
const app = (r: string, opts: { token?: string } = {}) =>
  createDashboard({ env: ImprovementEnvironment.open(r), loopback: true, pollMs: 20, ...opts });

beforeAll(async () => {
  empty = await initRoot(tempDir());
  root = await initRoot(tempDir());
  const run = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "1"]);
  expect(run.code).toBe(3);
  first = /Campaign (\S+):/.exec(run.out)![1]!;
  const crash = await cli(["--root", root, "run", "--no-llm", "--max-cycles", "1"], {
    ODIBI_IMPROVE_CRASH_AT: "cycle_start",
  });
  expect(crash.signal).toBe("SIGKILL");
  crashed = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8")).campaign_id;
}, 240_000);

describe("pages and partials", () => {
  it("a root with no campaign: the page, the partials, history and memory say so", async () => {
    const a = app(empty);
    const page = await a.request("/");
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain("No campaign yet");
    expect(text).toContain('src="/static/htmx.min.js"');
    expect(text).not.toMatch(/https?:\/\/(?!127)/); // nothing from a CDN
    expect(await (await a.request("/partials/cycles")).text()).toContain("No cycle yet");
    expect(await (await a.request("/partials/funnel")).text()).toContain('data-stage="promoted"');
    expect(await (await a.request("/history")).text()).toContain("No campaign on this root yet");
    expect(await (await a.request("/memory")).text()).toContain("Avoided issues");
  });

  it("static files are served from the package", async () => {
    const a = app(empty);
    const htmx = await a.request("/static/htmx.min.js");
    expect(htmx.status).toBe(200);
    expect(htmx.headers.get("content-type")).toContain("javascript");
    expect(await htmx.text()).toContain("htmx");
    expect(await (await a.request("/static/app.js")).text()).toContain("EventSource");
    expect((await a.request("/static/app.css")).headers.get("content-type")).toContain("text/css");
  });

  it("a crashed campaign: status says so with the way to resume; history lists every campaign", async () => {
    const a = app(root);
    const status = await (await a.request("/partials/status")).text();
    expect(status).toContain(crashed);
    expect(status).toMatch(/class="state crashed"/);
    expect(status).toContain("run --resume");
    expect(status).toContain("No campaign is running.");
    const history = await (await a.request("/history")).text();
    expect(history).toContain(first);
    expect(history).toContain(crashed);
    expect(history).toContain(`/file/reports/campaign_${first}_report.md`);
  });

  it("a campaign's cycles: the task, the approach, the deciding gates (no targeted run), the decision, links", async () => {
    const a = app(root);
    const cycles = await (await a.request(`/partials/cycles?campaign=${first}`)).text();
    expect(cycles).toContain("F401:pkg/core.py");
    expect(cycles).toContain("ruff-fix:F401");
    expect(cycles).toMatch(/class="promoted">promoted/);
    expect(cycles).toContain("pkg/core.py");
    expect(cycles).toContain('href="/file/reports/cycle_001_report.md"');
    const sha = (await git(path.join(root, "master"), ["rev-parse", "HEAD"])).trim();
    expect(cycles).toContain(`href="/diff/commit/${sha}"`);
    // After: one tests entry (the full run; the targeted one left out).
    const after = cycles.split("<td>").find((c) => c.includes("policy"))!;
    expect(after.match(/>tests </g)).toHaveLength(1);
    const funnel = await (await a.request(`/partials/funnel?campaign=${first}`)).text();
    expect(funnel).toMatch(/data-stage="attempts">.*?class="n">1</);
    expect(funnel).toMatch(/data-stage="promoted">.*?class="n">1</);
    expect((await a.request(`/?campaign=${first}`)).status).toBe(200);
    expect((await a.request("/partials/status?campaign=nope-123")).status).toBe(404);
  });

  it("memory: lessons, search", async () => {
    const a = app(root);
    const mem = await (await a.request("/memory")).text();
    expect(mem).toContain("ruff-fix:F401");
    const found = await (await a.request("/memory?q=imported%20unused")).text();
    expect(found).toContain('id="found"');
  });
});

describe("reports, files and diffs", () => {
  it("a report renders; raw HTML in it stays text", async () => {
    const a = app(root);
    const r = await (await a.request("/file/reports/cycle_001_report.md")).text();
    expect(r).toMatch(/<h1>Cycle 1 — promoted<\/h1>/);
    writeFileSync(
      path.join(root, "reports", "evil.md"),
      "# x\n\n<script>alert(1)</script> <img src=x onerror=alert(1)>\n",
    );
    const evil = await (await a.request("/file/reports/evil.md")).text();
    expect(evil).not.toContain("<script>alert");
    expect(evil).not.toContain("<img");
    expect(evil).toContain("&lt;script&gt;");
  });

  it("trajectories and logs as text; a huge file shows its end", async () => {
    const a = app(root);
    mkdirSync(path.join(root, "trajectories", "cycle_001"), { recursive: true });
    writeFileSync(path.join(root, "trajectories", "cycle_001", "attempt_1.jsonl"), '{"step":"<b>1</b>"}\n');
    const t = await (await a.request("/file/trajectories/cycle_001/attempt_1.jsonl")).text();
    expect(t).toContain("&lt;b&gt;1&lt;/b&gt;");
    const log = await (await a.request(`/file/logs/${first}.log`)).text();
    expect(log).toContain("cycle");
    const huge = path.join(root, "logs", "huge.log");
    writeFileSync(huge, `${"x".repeat(99)}\n`.repeat(30_000)); // 3 MB
    appendFileSync(huge, "the last line\n");
    const h = await (await a.request("/file/logs/huge.log")).text();
    expect(h).toContain("the last line");
    expect(h).toMatch(/3000014 bytes: the last 1048576 shown/);
    expect(h.length).toBeLessThan(1_200_000);
  });

  it("a promotion's diff, a candidate's diff from its report; bad and unknown ones refused", async () => {
    const a = app(root);
    const sha = (await git(path.join(root, "master"), ["rev-parse", "HEAD"])).trim();
    const d = await (await a.request(`/diff/commit/${sha}`)).text();
    expect(d).toContain('<span class="del">-import os</span>');
    const c = await (await a.request("/diff/cycle/1")).text();
    expect(c).toContain('<span class="del">-import os</span>');
    expect((await a.request("/diff/commit/HEAD")).status).toBe(400);
    expect((await a.request(`/diff/commit/${"0".repeat(40)}`)).status).toBe(404);
    expect((await a.request("/diff/cycle/999")).status).toBe(404);
    expect((await a.request("/diff/cycle/-1")).status).toBe(400);
    expect(candidateDiff("# x\n\n## Diff\n\n````diff\n-a\n+b\n````\n")).toBe("-a\n+b");
    expect(candidateDiff("# x\n\n## Diff\n\n_No change._\n")).toBeNull();
  });
});

describe("a rejected candidate", () => {
  it("its row links the diff its cycle report holds; the funnel stops at the gate that rejected it", async () => {
    const base = tempDir();
    // A test that needs the unused import: ruff's fix removes it, the tests gate rejects the candidate.
    const sacred = await makeGitRepo(path.join(base, "repo"), {
      ...LINT_FIXTURE,
      "tests/test_core.py":
        'from pkg.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\ndef test_keeps_os():\n    assert "import os" in open("pkg/core.py").read()\n',
    });
    const r3 = path.join(base, "improve");
    expect((await cli(["init", "--source", sacred, "--root", r3])).code).toBe(0);
    const cfg = path.join(r3, "config.yaml");
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("gates:\n", "gates:\n  flake_reruns: 0\n"));
    expect((await cli(["--root", r3, "run", "--no-llm", "--max-cycles", "1"])).code).toBe(3);
    const a = app(r3);
    const cycles = await (await a.request("/partials/cycles")).text();
    expect(cycles).toMatch(/class="rejected">rejected/);
    expect(cycles).toContain('href="/diff/cycle/1"');
    expect(cycles).not.toContain("/diff/commit/");
    const diff = await (await a.request("/diff/cycle/1")).text();
    expect(diff).toContain("the candidate&#39;s diff");
    expect(diff).toContain('<span class="del">-import os</span>');
    const funnel = await (await a.request("/partials/funnel")).text();
    expect(funnel).toMatch(/data-stage="attempts">.*?class="n">1</);
    expect(funnel).toMatch(/data-stage="lint">.*?class="n">1</);
    expect(funnel).toMatch(/data-stage="tests">.*?class="n">0</);
  }, 120_000);
});

describe("traversal and access", () => {
  it.each([
    "/file/..%2fconfig.yaml",
    "/file/reports/..%2f..%2fconfig.yaml",
    "/file/reports/..%5c..%5cconfig.yaml",
    "/file/reports%2f..%2fconfig.yaml",
    "/file/config.yaml",
    "/file/.odibi-improve/run.lock",
    "/file/reports/%00.md",
    "/file//etc/passwd",
    "/file/%2fetc%2fpasswd",
    "/?campaign=..%2f..%2fetc",
    "/partials/cycles?campaign=../x",
    "/sse?campaign=..%2fx",
  ])("%s is refused (400)", async (url) => {
    const r = await app(root).request(url);
    expect(r.status).toBe(400);
    expect(await r.text()).not.toContain("sacred_repo");
  });

  it("a link out of a served folder is refused; a missing file is 404", async () => {
    symlinkSync(path.join(root, "config.yaml"), path.join(root, "reports", "link.md"));
    expect((await app(root).request("/file/reports/link.md")).status).toBe(400);
    expect((await app(root).request("/file/reports/nothing.md")).status).toBe(404);
    expect((await app(root).request("/nothing")).status).toBe(404);
  });

  it("a real server refuses `..` in the request line itself, and a host name that is not loopback", async () => {
    const s = await serveDashboard({
      env: ImprovementEnvironment.open(root),
      loopback: true,
      host: "127.0.0.1",
      port: 0,
    });
    try {
      const get = (p: string, host?: string) =>
        new Promise<number>((resolve, reject) => {
          const req = httpRequest(
            { host: "127.0.0.1", port: s.port, path: p, headers: host ? { host } : {} },
            (res) => {
              res.resume();
              resolve(res.statusCode!);
            },
          );
          req.on("error", reject);
          req.end();
        });
      expect(await get("/file/../config.yaml")).toBe(400);
      expect(await get("/file/reports/../../config.yaml")).toBe(400);
      expect(await get("/")).toBe(200);
      expect(await get("/", "evil.example:80")).toBe(403); // DNS rebinding
    } finally {
      await s.close();
    }
  });

  it("with a token: every route needs it (query once, then the cookie; or a bearer header)", async () => {
    const token = "t".repeat(32);
    const a = app(root, { token });
    for (const u of ["/", "/history", "/static/app.js", "/sse", "/file/reports/cycle_001_report.md"])
      expect((await a.request(u)).status).toBe(401);
    expect((await a.request(`/?token=${"x".repeat(32)}`)).status).toBe(401);
    const ok = await a.request(`/?token=${token}`);
    expect(ok.status).toBe(200);
    const cookie = ok.headers.get("set-cookie")!.split(";")[0]!;
    expect(ok.headers.get("set-cookie")).toMatch(/HttpOnly/);
    expect((await a.request("/history", { headers: { cookie } })).status).toBe(200);
    expect((await a.request("/history", { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await a.request("/stop", { method: "POST", headers: { "hx-request": "true" } })).status).toBe(
      401,
    );
  });

  it("the ui command: a host that is not loopback gets a token, printed in the URL; a bad port is a usage error", async () => {
    const proc = spawn(process.execPath, [CLI, "--root", empty, "ui", "--host", "0.0.0.0", "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        proc.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /(http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        proc.once("exit", (code) => reject(new Error(`ui exited (${code})`)));
      });
      expect(url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/\?token=[\w-]{32}$/);
      const port = new URL(url).port;
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(401);
      expect(
        (await fetch(`http://127.0.0.1:${port}/?token=${new URL(url).searchParams.get("token")}`)).status,
      ).toBe(200);
    } finally {
      proc.kill("SIGTERM");
    }
    const r = await cli(["--root", empty, "ui", "--port", "70000"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--port");
  });
});

describe("controls", () => {
  it("a POST not from the page (no HX-Request) is refused", async () => {
    expect((await app(empty).request("/stop", { method: "POST" })).status).toBe(403);
    expect((await app(empty).request("/start", { method: "POST" })).status).toBe(403);
  });

  it("stop writes the stop request; start is refused naming the holder while the lock is held", async () => {
    const a = app(empty);
    const stop = await a.request("/stop", { method: "POST", headers: { "hx-request": "true" } });
    expect(stop.status).toBe(200);
    expect(await stop.text()).toContain("no campaign is running now");
    expect(existsSync(path.join(empty, "STOP"))).toBe(true);
    const lock = path.join(empty, ".odibi-improve", "run.lock");
    writeFileSync(
      lock,
      JSON.stringify({ pid: process.pid, host: os.hostname(), at: "2026-01-01T00:00:00Z" }),
    );
    try {
      const form = new URLSearchParams({ maxCycles: "1", noLlm: "1" });
      const start = await a.request("/start", {
        method: "POST",
        headers: { "hx-request": "true" },
        body: form,
      });
      expect(start.status).toBe(409);
      expect(await start.text()).toContain(`pid ${process.pid} on ${os.hostname()}`);
      const status = await (await a.request("/partials/status")).text();
      expect(status).toContain(`Running: pid ${process.pid}`);
      expect(status).toMatch(/id="start" disabled/);
    } finally {
      rmSync(lock);
    }
    const bad = await a.request("/start", {
      method: "POST",
      headers: { "hx-request": "true" },
      body: new URLSearchParams({ maxCycles: "-1" }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("maxCycles takes a positive number");
  });
});

/** Reads an SSE response until `done` holds for the text so far (or 5 s), then cancels it. */
async function readSse(res: Response, done: (text: string) => boolean): Promise<string> {
  const reader = res.body!.getReader();
  let text = "";
  const until = Date.now() + 5000;
  while (!done(text) && Date.now() < until) {
    const { value, done: end } = await reader.read();
    if (end) break;
    text += new TextDecoder().decode(value);
  }
  await reader.cancel();
  return text;
}

describe("the live log (SSE)", () => {
  it("follows the latest campaign's run log; Last-Event-ID resumes after the offset it names", async () => {
    const a = app(root);
    const log = path.join(root, "logs", `${crashed}.log`);
    writeFileSync(log, "line one\nline two\n");
    const res = await a.request("/sse");
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const text = await readSse(res, (t) => t.includes("line two"));
    expect(text).toContain(`event: campaign\ndata: ${crashed}`);
    expect(text).toContain(`data: line one\ndata: line two\nid: ${crashed}:18`);
    appendFileSync(log, "line three\n");
    const resumed = await readSse(
      await a.request("/sse", { headers: { "last-event-id": `${crashed}:18` } }),
      (t) => t.includes("line three"),
    );
    expect(resumed).not.toContain("line one");
    expect(resumed).toContain(`data: line three\nid: ${crashed}:29`);
  });

  it("a new line reaches a connected reader within a second; a huge log starts at its end", async () => {
    const a = app(root);
    const log = path.join(root, "logs", "big-1.log");
    writeFileSync(log, `${"y".repeat(99)}\n`.repeat(50_000)); // 5 MB
    const res = await a.request("/sse?campaign=big-1");
    const reader = res.body!.getReader();
    let text = "";
    const more = async () => {
      const r = await reader.read();
      if (r.done) throw new Error(`the stream ended: ${text}`);
      text += new TextDecoder().decode(r.value);
    };
    while (!text.includes("id: big-1:5000000")) await more();
    expect(text).toMatch(/event: cut\ndata: \d+ earlier bytes not shown/);
    expect(text.length).toBeLessThan(80 * 1024);
    const at = Date.now();
    appendFileSync(log, "fresh\n");
    while (!text.includes("data: fresh")) await more();
    expect(Date.now() - at).toBeLessThan(1000);
    await reader.cancel();
  });
});

describe("pure parts", () => {
  it.each([
    [{ action: "promote", lesson: { outcome: "promoted" } }, 5],
    [{ action: "reject", reason: "the candidate made no change", lesson: { outcome: "no_change" } }, 0],
    [
      {
        action: "reject",
        lesson: { outcome: "rejected", gate: "policy", reason: "policy: oracle-modified" },
      },
      0,
    ],
    [
      { action: "reject", lesson: { outcome: "rejected", gate: "lint", reason: "introduced 1 new failure" } },
      1,
    ],
    [
      {
        action: "reject",
        lesson: { outcome: "rejected", gate: "tests", reason: "introduced 2 new failures" },
      },
      2,
    ],
    [
      {
        action: "reject",
        lesson: { outcome: "rejected", gate: "golden", reason: "introduced 1 new failure" },
      },
      2,
    ],
    [
      { action: "reject", lesson: { outcome: "rejected", gate: "tests", reason: "tests:t order-dependent" } },
      3,
    ],
    [{ action: "reject", lesson: { outcome: "rejected", reason: "the targeted failure still fails" } }, 4],
  ])("funnel: %j passed %i stage(s)", (data, n) => {
    expect(stagesPassed(data)).toBe(n);
  });

  it("the tail reader returns whole lines only, and resumes at the offset it returned", () => {
    const f = path.join(tempDir(), "log");
    writeFileSync(f, "one\ntw");
    expect(readLinesFrom(f, 0)).toEqual({ text: "one\n", next: 4 });
    appendFileSync(f, "o\n");
    expect(readLinesFrom(f, 4)).toEqual({ text: "two\n", next: 8 });
    expect(readLinesFrom(f, 8)).toEqual({ text: "", next: 8 });
    expect(readLinesFrom(f, 100)).toEqual({ text: "one\ntwo\n", next: 8 }); // replaced by a shorter file
    expect(readLinesFrom(path.join(path.dirname(f), "none"), 0)).toEqual({ text: "", next: 0 });
  });
});
