import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { MissingTool, SacredViolation } from "../src/core/errors.js";
import {
  bwrapArgs,
  createJailedRunner,
  decideIsolation,
  describeIsolation,
  type IsolationProbe,
  JAIL_HOME,
  JAIL_UID,
  probeIsolation,
} from "../src/exec/jail.js";
import { runProcess } from "../src/exec/run-process.js";
import { itWhen } from "./ci-required.js";
import { tempDir } from "./helpers.js";

const works: IsolationProbe = { available: true, bwrap: "bwrap", version: "bubblewrap 0.8.0" };
const broken: IsolationProbe = { available: false, bwrap: "bwrap", reason: "user namespaces are restricted" };

describe("isolation decision (pure)", () => {
  it("auto takes bwrap when it works, else none with a warning naming the reason", () => {
    const ok = decideIsolation("auto", works);
    expect(ok.mode).toBe("bwrap");
    expect(ok.warning).toBeUndefined();
    const d = decideIsolation("auto", broken);
    expect(d.mode).toBe("none");
    expect(d.warning).toContain("user namespaces are restricted");
    expect(describeIsolation(d)).toContain("isolation: none");
  });

  it("auto never runs an LLM's code unjailed: without a jail an LLM campaign refuses, saying what to do", () => {
    expect(decideIsolation("auto", works, { llm: true }).mode).toBe("bwrap");
    const err = (() => {
      try {
        decideIsolation("auto", broken, { llm: true });
      } catch (e) {
        return e as MissingTool;
      }
    })();
    expect(err).toBeInstanceOf(MissingTool);
    expect(err!.message).toBe("refusing to run an LLM's code without a jail: user namespaces are restricted");
    expect(err!.hint).toMatch(/apt-get install bubblewrap[\s\S]*--no-llm[\s\S]*isolation: none/);
    expect(decideIsolation("auto", broken, { llm: false }).mode).toBe("none");
    expect(decideIsolation("none", broken, { llm: true }).mode).toBe("none");
  });

  it("none is honoured only as an explicit choice, always with a warning", () => {
    const d = decideIsolation("none", works);
    expect(d.mode).toBe("none");
    expect(d.warning).toContain("chosen in config");
  });

  it("bwrap demanded but unavailable is a typed error saying what to do", () => {
    expect(() => decideIsolation("bwrap", broken)).toThrow(MissingTool);
    expect(() => decideIsolation("bwrap", broken)).toThrow(/bwrap/);
    expect(decideIsolation("bwrap", works).mode).toBe("bwrap");
  });
});

describe("bubblewrap jail (real)", async () => {
  const probe = await probeIsolation();
  console.log(`[jail] probe: ${JSON.stringify(probe)}`);
  const withJail = itWhen(
    probe.available,
    `the bubblewrap jail does not work here (${probe.reason}): apt-get install bubblewrap`,
  );

  it("the probe gives a reason whenever it says unavailable", () => {
    if (!probe.available) expect(probe.reason).toMatch(/\w/);
    else expect(probe.version).toMatch(/bubblewrap/);
  });

  let root: string;
  let sandbox: string;
  let golden: string;
  let outside: string;
  beforeAll(() => {
    root = tempDir();
    sandbox = path.join(root, "sandboxes", "cycle_001");
    golden = path.join(root, "golden");
    outside = path.join(root, "sacred");
    for (const d of [path.join(sandbox, ".git"), golden, outside]) mkdirSync(d, { recursive: true });
    writeFileSync(path.join(golden, "project.yaml"), "golden: true\n");
    writeFileSync(path.join(outside, "secret.txt"), "sacred\n");
    writeFileSync(path.join(sandbox, ".git", "config"), "[core]\n");
  });

  const sh = (script: string, env?: Record<string, string>) =>
    createJailedRunner({ mode: "bwrap", sandbox, readOnly: [golden] })("/bin/sh", ["-c", script], {
      cwd: sandbox,
      env,
      timeoutMs: 30_000,
    });

  withJail("lets the sandbox be written, and nothing else", async () => {
    const r = await sh(
      [
        "echo made > made.txt && echo sandbox-ok",
        `echo x > "${path.join(golden, "project.yaml")}" 2>/dev/null || echo golden-ro`,
        `cat "${path.join(outside, "secret.txt")}" 2>/dev/null || echo sacred-invisible`,
        "echo '[core] fsmonitor = evil' >> .git/config 2>/dev/null || echo dotgit-ro",
        "echo x > /usr/oi-jail-test 2>/dev/null || echo system-ro",
        `test "$HOME" = "${JAIL_HOME}" && test -z "$(ls -A "$HOME")" && echo home-private`,
      ].join("; "),
    );
    expect(r.stdout.split("\n").filter(Boolean)).toEqual([
      "sandbox-ok",
      "golden-ro",
      "sacred-invisible",
      "dotgit-ro",
      "system-ro",
      "home-private",
    ]);
    expect(readFileSync(path.join(sandbox, "made.txt"), "utf8")).toBe("made\n");
    expect(readFileSync(path.join(golden, "project.yaml"), "utf8")).toBe("golden: true\n");
    expect(readFileSync(path.join(sandbox, ".git", "config"), "utf8")).toBe("[core]\n");
    expect(existsSync("/usr/oi-jail-test")).toBe(false);
  });

  withJail("passes the gate's env, but not the caller's secrets", async () => {
    process.env.OI_JAIL_TEST_SECRET_KEY = "sk-should-not-leak";
    try {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, run by sh
      const r = await sh('echo "gate=$GATE_VAR secret=${OI_JAIL_TEST_SECRET_KEY:-none} path=${PATH:+set}"', {
        GATE_VAR: "yes",
      });
      expect(r.stdout.trim()).toBe("gate=yes secret=none path=set");
    } finally {
      delete process.env.OI_JAIL_TEST_SECRET_KEY;
    }
  });

  withJail("shows nothing of the run's environment through /proc either", async () => {
    process.env.OI_JAIL_TEST_API_TOKEN = "tok-planted-in-the-run-env";
    try {
      // bwrap's own process is pid 1 inside: before, it had inherited the caller's whole environment.
      const r = await sh(
        'for f in /proc/self/environ /proc/[0-9]*/environ; do echo "== $f"; tr "\\0" "\\n" < "$f"; done',
      );
      expect(r.stdout).toContain("== /proc/1/environ");
      expect(r.stdout).toContain("== /proc/self/environ");
      expect(r.stdout).not.toContain("tok-planted-in-the-run-env");
      expect(r.stdout).not.toContain("OI_JAIL_TEST_API_TOKEN");
    } finally {
      delete process.env.OI_JAIL_TEST_API_TOKEN;
    }
  });

  withJail("runs commands as nobody (65534), with the sandbox still writable", async () => {
    const r = await sh(
      "id -u; id -g; mkdir -p __pycache__ .pytest_cache/v && echo x > __pycache__/m.pyc && echo w",
    );
    expect(r.stdout.split("\n").filter(Boolean)).toEqual([String(JAIL_UID), String(JAIL_UID), "w"]);
    expect(existsSync(path.join(sandbox, "__pycache__", "m.pyc"))).toBe(true);
  });

  withJail("cannot make a nested user namespace to regain capabilities", async () => {
    const r = await sh("unshare -Ur id -u 2>/dev/null || echo refused");
    expect(r.stdout.trim()).toBe("refused");
  });

  it("refuses a jail that would mount Sacred, a folder inside it or a parent of it (also through a symlink)", () => {
    const link = path.join(root, "sacred-link");
    if (!existsSync(link)) symlinkSync(outside, link);
    const attempts: Array<Partial<Parameters<typeof createJailedRunner>[0]>> = [
      { sandbox: outside },
      { readOnly: [path.join(outside)] },
      { readOnly: [root] },
      { readWrite: [link] },
      { sandbox, hide: [link], readOnly: [outside] },
    ];
    for (const a of attempts) {
      const opts = { mode: "bwrap" as const, sandbox, hide: [outside], ...a };
      expect(() => createJailedRunner(opts), JSON.stringify(a)).toThrow(SacredViolation);
    }
    expect(() =>
      createJailedRunner({ mode: "bwrap", sandbox, readOnly: [golden], hide: [outside] }),
    ).not.toThrow();
  });

  it("covers a hidden path under a system folder, also when it is named through a symlink", () => {
    const link = path.join(root, "etc-link");
    if (!existsSync(link)) symlinkSync("/etc", link);
    // A read-only folder inside a system folder (a venv's base Python in /usr) is no overlap: /etc is mounted whole.
    const args = bwrapArgs(
      { mode: "bwrap", sandbox, readOnly: ["/etc"], hide: [path.join(link, "ssl")] },
      { cwd: sandbox },
    );
    expect(args.join(" ")).toContain("--tmpfs /etc/ssl --remount-ro /etc/ssl");
  });

  withJail("has no network and its own PID namespace", async () => {
    const r = await sh(
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ','; echo; ls /proc | grep -c '^[0-9]'",
    );
    const [ifaces, pids] = r.stdout.split("\n");
    expect(ifaces).toBe("lo,");
    expect(Number(pids)).toBeGreaterThan(0);
    expect(Number(pids)).toBeLessThan(10);
  });

  withJail("reports the caller's command, and a timeout kills everything inside", async () => {
    // A duration no other process on the machine uses, so pgrep finds only what this test started.
    const secs = `59.${String(process.pid).padStart(6, "0")}${Date.now() % 1000}`;
    const r = await createJailedRunner({ mode: "bwrap", sandbox })(
      "/bin/sh",
      ["-c", `sleep ${secs} & sleep ${secs}`],
      {
        cwd: sandbox,
        timeoutMs: 1500,
        graceMs: 500,
      },
    );
    expect(r.file).toBe("/bin/sh");
    expect(r.timedOut).toBe(true);
    const left = await runProcess("pgrep", ["-f", `^sleep ${secs.replace(".", "\\.")}$`], { cwd: sandbox });
    expect(left.stdout.trim()).toBe("");
  });

  it.runIf(process.platform === "linux")("says when bubblewrap is too old for the jail's flags", async () => {
    // A stand-in for bubblewrap 0.6 (Ubuntu 22.04), which has no --disable-userns.
    const fake = path.join(root, "bwrap-0.6");
    writeFileSync(
      fake,
      '#!/bin/sh\n[ "$1" = --version ] && { echo "bubblewrap 0.6.1"; exit 0; }\necho "bwrap: Unknown option --disable-userns" >&2\nexit 1\n',
      { mode: 0o755 },
    );
    const p = await probeIsolation({ bwrap: fake });
    expect(p.available).toBe(false);
    expect(p.reason).toBe(
      "bubblewrap 0.6.1 is too old: the jail needs bubblewrap 0.8 or newer (--disable-userns); bwrap: Unknown option --disable-userns",
    );
  });

  it("mode none runs the command as it is", async () => {
    const r = await createJailedRunner({ mode: "none", sandbox: root })("/bin/sh", ["-c", "echo $HOME"], {
      cwd: root,
    });
    expect(r.stdout.trim()).toBe(process.env.HOME);
  });
});
