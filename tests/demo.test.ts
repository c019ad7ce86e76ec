import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { git } from "../src/environment/git.js";
import { cli } from "./campaign-cli.js";
import { tempDir } from "./helpers.js";

// The README's first command: `demo` on the bundled sample target, no API key.
it("demo: three lint promotions, the failing test avoided, converged; the report printed for a terminal", async () => {
  const dir = path.join(tempDir(), "demo");
  const r = await cli(["demo", "--dir", dir]);
  expect(r.code, r.out + r.err).toBe(0);
  expect(r.out).toContain("Status: **completed** (CONVERGED)");
  expect(r.out).toContain("3 promotions");
  expect(r.out).toContain("test_reorder_never_negative"); // avoided, named without markdown escapes
  expect(r.out).not.toMatch(/\\[_()]/);
  const master = path.join(dir, "improve", "master");
  expect((await git(master, ["rev-list", "--count", "sacred..HEAD"])).trim()).toBe("3");
  const reports = readdirSync(path.join(dir, "improve", "reports"));
  expect(reports.filter((f) => /^campaign_.*\.(md|html)$/.test(f))).toHaveLength(2);
  expect(existsSync(path.join(dir, "improve", "events.jsonl"))).toBe(true);
});
