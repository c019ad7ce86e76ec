import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { afterAll, describe, expect, inject } from "vitest";
import { isPidAlive } from "../src/environment/lock.js";
import { cli } from "./campaign-cli.js";
import { itWhen } from "./ci-required.js";
import { CLI, makeGitRepo, tempDir } from "./helpers.js";

/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core) against a real `--no-llm` campaign
 * started from the page: the page updates live, a second start is refused, Stop stops it, a report renders, a diff
 * shows. Screenshots go to .test-results/dashboard/.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = path.resolve(import.meta.dirname, "..", ".test-results", "dashboard");
const itBrowser = itWhen(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium)`);

/** Eight modules with an unused import each (one ruff fix per cycle) and a test slow enough to watch. */
function fixture(): Record<string, string> {
  const files: Record<string, string> = {
    "pkg/__init__.py": "",
    "tests/test_pkg.py":
      "import time\n\nfrom pkg.m0 import f0\n\n\ndef test_f0():\n    time.sleep(1)\n    assert f0(1) == 1\n",
    "pyproject.toml": '[project]\nname = "pkg"\nversion = "0.1.0"\n',
  };
  for (let i = 0; i < 8; i++) files[`pkg/m${i}.py`] = `import os\n\n\ndef f${i}(x):\n    return x\n`;
  return files;
}

const started: ChildProcess[] = [];
afterAll(() => {
  for (const p of started) if (p.pid && isPidAlive(p.pid)) p.kill("SIGTERM");
});

/** `odibi-improve ui --port 0` as a real process; resolves with the URL it prints. */
function startUi(root: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [CLI, "--root", root, "ui", "--port", "0"], {
    env: { ...process.env, ODIBI_IMPROVE_ROOT: undefined, ODIBI_IMPROVE_VENV: inject("venv") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(proc);
  return new Promise((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, proc });
    });
    proc.stderr!.on("data", (d: Buffer) => {
      out += d.toString();
    });
    proc.once("exit", (code) => reject(new Error(`ui exited (${code}): ${out}`)));
  });
}

describe("the dashboard in Chromium", () => {
  itBrowser(
    "a campaign started from the page updates live, a second start is refused, Stop stops it, a report and a diff show",
    async () => {
      const base = tempDir();
      const sacred = await makeGitRepo(path.join(base, "repo"), fixture());
      const root = path.join(base, "improve");
      expect((await cli(["init", "--source", sacred, "--root", root])).code).toBe(0);
      const cfg = path.join(root, "config.yaml");
      writeFileSync(cfg, readFileSync(cfg, "utf8").replace("gates:\n", "gates:\n  flake_reruns: 0\n"));
      mkdirSync(SHOTS, { recursive: true });
      const { url, proc } = await startUi(root);
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
        await page.goto(url);
        await expect.poll(() => page.textContent("#status")).toContain("No campaign yet");
        await page.evaluate("window.loadedOnce = 1");

        // Start from the form: a detached run, never inside the web server.
        await page.fill('input[name="maxCycles"]', "20");
        await page.check('input[name="noLlm"]');
        await page.click("#start");
        await expect
          .poll(() => page.textContent("#control-result"), { timeout: 20_000 })
          .toMatch(/started: pid \d+/);
        await page.waitForSelector("#campaign-state.running", { timeout: 20_000 });
        // Live: a promotion appears in the status card and the cycles table, the log streams, no reload happened.
        await page.waitForFunction('Number(document.querySelector("#promoted")?.textContent) >= 1', null, {
          timeout: 60_000,
        });
        await page.waitForSelector("#cycles-table td.promoted", { timeout: 10_000 });
        await expect
          .poll(() => page.textContent("#log-lines"), { timeout: 10_000 })
          .toMatch(/cycle 1 \(1\/20\)/);
        expect(await page.evaluate("window.loadedOnce")).toBe(1);
        // A second start is refused while it runs: the button is disabled and the holder named.
        expect(await page.isDisabled("#start")).toBe(true);
        expect(await page.textContent("#holder")).toMatch(/Running: pid \d+ on /);
        await page.screenshot({ path: path.join(SHOTS, "running.png"), fullPage: true });

        // Stop stops it (gracefully: status stopped, reason STOPPED), and the buttons follow.
        await page.click("#stop");
        await page.waitForSelector("#campaign-state.stopped", { timeout: 60_000 });
        expect(await page.textContent("#status")).toContain("STOPPED");
        await page.waitForSelector("#start:not([disabled])", { timeout: 20_000 });
        await page.screenshot({ path: path.join(SHOTS, "stopped.png"), fullPage: true });

        // A cycle report renders as HTML; a promotion's diff shows the removed import.
        await page.click('#cycles-table a[href^="/file/reports/cycle_"]');
        await page.waitForSelector("#report h1");
        expect(await page.textContent("#report h1")).toMatch(/Cycle \d+ — promoted/);
        await page.screenshot({ path: path.join(SHOTS, "report.png"), fullPage: true });
        await page.goBack();
        await page.click('#cycles-table a[href^="/diff/commit/"]');
        await page.waitForSelector("#diff .del");
        expect(await page.textContent("#diff .del")).toBe("-import os");
        await page.screenshot({ path: path.join(SHOTS, "diff.png"), fullPage: true });
      } finally {
        await browser.close();
        proc.kill("SIGTERM");
      }
      // The campaign's process ended by itself after the stop (it was never the web server's child to kill).
      const status = JSON.parse(readFileSync(path.join(root, "status.json"), "utf8"));
      await expect.poll(() => isPidAlive(status.pid), { timeout: 30_000 }).toBe(false);
      expect(status).toMatchObject({ status: "stopped", stop_reason: "STOPPED" });
    },
    150_000,
  );
});
