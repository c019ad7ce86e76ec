import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { expect, it } from "vitest";
import { ErrorJson, JSON_RESULTS } from "../src/cli/json-schemas.js";
import { isPidAlive } from "../src/environment/lock.js";
import { cli, LINT_FIXTURE } from "./campaign-cli.js";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * `run --detach` and the notification hook: a detached campaign on a python fixture ends, and `notify:` tells a
 * real local HTTP server (webhook) and a command (JSON on stdin, ODIBI_IMPROVE_* variables).
 */

it("run --detach starts the campaign in the background, prints its log; at its end notify's command and webhook run", async () => {
  const posts: { path: string; type: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      posts.push({ path: req.url ?? "", type: req.headers["content-type"] ?? "", body });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    const base = tempDir();
    const sacred = await makeGitRepo(path.join(base, "repo"), LINT_FIXTURE);
    const root = path.join(base, "improve");
    expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
    const script = path.join(base, "notify.mjs");
    const got = path.join(base, "notified.json");
    writeFileSync(
      script,
      `import { readFileSync, writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(got)}, JSON.stringify({ stdin: JSON.parse(readFileSync(0, "utf8")), campaign: process.env.ODIBI_IMPROVE_CAMPAIGN, reason: process.env.ODIBI_IMPROVE_REASON }));\n`,
    );
    appendFileSync(
      path.join(root, "config.yaml"),
      `notify:\n  command: '"${process.execPath}" "${script}"'\n  webhook: http://127.0.0.1:${port}/hook\n`,
    );

    const r = await cli(["--root", root, "--json", "run", "--detach", "--no-llm", "--max-cycles", "1"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const started = JSON_RESULTS.run.parse(JSON.parse(r.out.trim().split("\n").at(-1)!));
    if (!("detached" in started)) throw new Error(`not a detached start: ${r.out}`);
    const { campaign, pid, log } = started;
    expect(log).toBe(path.join(root, "logs", `${campaign}.log`));
    // The command returned while the campaign runs on, in its own process.
    await expect.poll(() => posts.length, { timeout: 90_000, interval: 250 }).toBe(1);
    const post = posts[0]!;
    expect(post.path).toBe("/hook");
    expect(post.type).toBe("application/json");
    expect(JSON.parse(post.body)).toMatchObject({
      campaign,
      root,
      status: "completed",
      reason: "MAX_CYCLES_REACHED",
      cycles: 1,
      promoted: 1,
      rejected: 0,
      report: path.join(root, "reports", `campaign_${campaign}_report.md`),
    });
    await expect.poll(() => existsSync(got), { timeout: 10_000 }).toBe(true);
    const notified = JSON.parse(readFileSync(got, "utf8"));
    expect(notified).toMatchObject({
      campaign,
      reason: "MAX_CYCLES_REACHED",
      stdin: { campaign, promoted: 1 },
    });
    await expect.poll(() => isPidAlive(Number(pid)), { timeout: 20_000 }).toBe(false);
    const text = readFileSync(log!, "utf8");
    expect(text).toContain("notify: webhook answered 200");
    expect(text).toMatch(/notify: .*notify\.mjs.* ran/);

    // A second detached start while one runs is refused naming the holder (here: a lock held by this process).
    writeFileSync(
      path.join(root, ".odibi-improve", "run.lock"),
      JSON.stringify({ pid: process.pid, host: (await import("node:os")).hostname(), at: "now" }),
    );
    const second = await cli(["--root", root, "run", "--detach", "--no-llm"]);
    expect(second.err).toContain(`a campaign is already running on ${root}: pid ${process.pid}`);
    const refused = await cli(["--root", root, "--json", "run", "--detach", "--no-llm"]);
    const last = ErrorJson.parse(JSON.parse(refused.out.trim().split("\n").at(-1)!));
    expect(last).toMatchObject({ command: "run", exitCode: second.code });
    expect(last.message).toContain(`pid ${process.pid}`);
  } finally {
    server.close();
  }
}, 150_000);

it("notify: a webhook that is not an http(s) URL is a config error at its line", async () => {
  const base = tempDir();
  const sacred = await makeGitRepo(path.join(base, "repo"), LINT_FIXTURE);
  const root = path.join(base, "improve");
  expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
  const cfg = path.join(root, "config.yaml");
  const lines = readFileSync(cfg, "utf8").split("\n").length;
  appendFileSync(cfg, "notify:\n  webhook: ftp://example.com/x\n");
  const r = await cli(["--root", root, "status"]);
  expect(r.code).toBe(2);
  expect(r.err).toContain(`config.yaml:${lines + 1}:`);
  expect(r.err).toContain("a webhook is an http(s) URL");
});
