import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  describeEnd,
  runCommandLine,
  runProcess,
  splitCommandLine,
  TailBuffer,
} from "../src/exec/run-process.js";
import { tempDir } from "./helpers.js";

const posix = process.platform !== "win32";

/** Alive and not a zombie (a zombie holds no pipe and no CPU; PID 1 in a container may be slow to reap it). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true;
  }
}

async function waitGone(pid: number, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

// The grandchild writes its pid to a file first, so the test knows whom to look for. The time limits below leave
// room for two node start-ups on a loaded 2-core CI machine before the kill.
const GRANDCHILD = (pidFile: string, ignoreTerm: boolean) => `
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const code = ${JSON.stringify(ignoreTerm ? "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);" : "setInterval(() => {}, 1000);")};
const g = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "inherit", "inherit"] });
fs.writeFileSync(${JSON.stringify(pidFile)}, String(g.pid));
console.log("started", g.pid);
setInterval(() => {}, 1000);
`;

// The grandchild lives forever: a runner that waited for its pipe would never return. The test's own time limit
// is that hang check (no timing assertion on how fast it returns).
const HANG_LIMIT = 20_000;

describe.runIf(posix)("runProcess: process-group kill", () => {
  it(
    "returns right after the timeout and no grandchild survives holding the pipe",
    async () => {
      const dir = tempDir();
      const pidFile = `${dir}/grandchild.pid`;
      const r = await runProcess(process.execPath, ["-e", GRANDCHILD(pidFile, false)], {
        cwd: dir,
        timeoutMs: 3000,
        graceMs: 500,
      });
      expect(r.timedOut).toBe(true);
      expect(r.exitCode).toBeNull();
      expect(r.signal).toBe("SIGTERM");
      expect(r.stdout).toContain("started");
      const pid = Number(readFileSync(pidFile, "utf8"));
      expect(pid).toBeGreaterThan(0);
      expect(await waitGone(pid)).toBe(true);
      expect(describeEnd(r)).toMatch(/^timed out after \d+ ms$/);
    },
    HANG_LIMIT,
  );

  it(
    "kills a grandchild that ignores TERM with KILL after the grace period",
    async () => {
      const dir = tempDir();
      const pidFile = `${dir}/grandchild.pid`;
      const r = await runProcess(process.execPath, ["-e", GRANDCHILD(pidFile, true)], {
        cwd: dir,
        timeoutMs: 2500,
        graceMs: 500,
      });
      expect(r.timedOut).toBe(true);
      const pid = Number(readFileSync(pidFile, "utf8"));
      expect(await waitGone(pid)).toBe(true);
    },
    HANG_LIMIT,
  );

  it(
    "an abort signal stops the whole group and says so",
    async () => {
      const dir = tempDir();
      const pidFile = `${dir}/grandchild.pid`;
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 2000);
      const r = await runProcess(process.execPath, ["-e", GRANDCHILD(pidFile, false)], {
        cwd: dir,
        signal: ac.signal,
        graceMs: 500,
      });
      expect(r.aborted).toBe(true);
      expect(r.timedOut).toBe(false);
      expect(describeEnd(r)).toBe("stopped");
      expect(await waitGone(Number(readFileSync(pidFile, "utf8")))).toBe(true);
    },
    HANG_LIMIT,
  );

  it(
    "returns soon after the command ends even when a process that left its group holds the pipe",
    async () => {
      const dir = tempDir();
      const pidFile = `${dir}/escaped.pid`;
      // `setsid` puts the sleeper in its own session: the group kill cannot reach it and it keeps stdout open.
      const r = await runProcess(
        "/bin/sh",
        ["-c", `setsid sleep 60 & echo $! > '${pidFile}'; echo started`],
        { cwd: dir, timeoutMs: 10_000, graceMs: 500 },
      );
      const escaped = Number(readFileSync(pidFile, "utf8"));
      try {
        expect(r.exitCode).toBe(0);
        expect(r.timedOut).toBe(false);
        expect(r.stdout).toBe("started\n");
        expect(r.durationMs).toBeLessThan(8000);
      } finally {
        process.kill(escaped, "SIGKILL");
      }
    },
    HANG_LIMIT,
  );

  it("an already aborted signal does not leave a process running", async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await runProcess(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
      cwd: tempDir(),
      signal: ac.signal,
      graceMs: 200,
    });
    expect(r.aborted).toBe(true);
    expect(r.exitCode).toBeNull();
  });
});

describe("runProcess: results", () => {
  it("keeps the tail of a large output and reports its full size", async () => {
    // 200 lines of 100 bytes = 20 000 bytes on stdout; cap at 1000.
    const code = `for (let i = 0; i < 200; i++) process.stdout.write(String(i).padStart(99, "-") + "\\n"); process.stderr.write("err-ok");`;
    const r = await runProcess(process.execPath, ["-e", code], { cwd: tempDir(), maxOutputBytes: 1000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdoutBytes).toBe(20_000);
    expect(Buffer.byteLength(r.stdout)).toBe(1000);
    expect(r.truncated).toBe(true);
    expect(r.stdout.endsWith(`${"199".padStart(99, "-")}\n`)).toBe(true);
    expect(r.stdout).not.toContain("--0\n");
    expect(r.stderr).toBe("err-ok");
    expect(r.stderrBytes).toBe(6);
  });

  it("keeps exactly the last cap bytes whatever chunk sizes the pipe delivers", () => {
    // The CI failure that found this: 20 000 bytes in 200-byte chunks kept 800, not 1000.
    const text = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(99, "-")}\n`).join("");
    for (const sizes of [[200], [300], [1], [999], [1000], [1001], [4096], [7, 1500, 13]]) {
      const tail = new TailBuffer(1000);
      let at = 0;
      for (let k = 0; at < text.length; k++) {
        const n = sizes[k % sizes.length]!;
        tail.push(Buffer.from(text.slice(at, at + n)));
        at += n;
      }
      expect(tail.total).toBe(20_000);
      expect(tail.truncated).toBe(true);
      expect(tail.toString()).toBe(text.slice(-1000));
    }
    const small = new TailBuffer(1000);
    small.push(Buffer.from("abc"));
    small.push(Buffer.from("def"));
    expect([small.toString(), small.truncated]).toEqual(["abcdef", false]);
  });

  it("does not report truncation when the output fits", async () => {
    const r = await runProcess(process.execPath, ["-e", "console.log('hi')"], {
      cwd: tempDir(),
      maxOutputBytes: 100,
    });
    expect(r).toMatchObject({
      exitCode: 0,
      stdout: "hi\n",
      stdoutBytes: 3,
      truncated: false,
      timedOut: false,
    });
  });

  it("reports a missing executable as a spawn error, not a crash", async () => {
    const r = await runProcess("no-such-tool-odibi-improve-xyz", ["--version"], { cwd: tempDir() });
    expect(r.spawnError).toMatch(/ENOENT|not found/i);
    expect(r.exitCode).toBeNull();
    expect(describeEnd(r)).toMatch(/^could not start no-such-tool-odibi-improve-xyz: /);
  });

  it("passes exit codes, stdin and environment through", async () => {
    const r = await runProcess(
      process.execPath,
      [
        "-e",
        "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{console.log(s+process.env.OI_X);process.exit(3)})",
      ],
      { cwd: tempDir(), input: "in-", env: { OI_X: "env" } },
    );
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe("in-env\n");
    expect(describeEnd(r)).toBe("exit 3");
  });

  it("splits command lines without a shell", async () => {
    expect(splitCommandLine(`python -m pytest -q "tests/a b.py" 'x y'`)).toEqual([
      "python",
      "-m",
      "pytest",
      "-q",
      "tests/a b.py",
      "x y",
    ]);
    expect(() => splitCommandLine(`echo "oops`)).toThrow(/unterminated/);
    const r = await runCommandLine(`"${process.execPath}" -e "console.log(1+1)"`, { cwd: tempDir() });
    expect(r.stdout).toBe("2\n");
  });
});
