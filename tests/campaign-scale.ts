import type { RecordedRequest, Script, ScriptedReply } from "./llm-server.js";

/**
 * The scale fixture (tests/campaign-parallel.test.ts, bench/campaign.ts): a python repository with `k` independent
 * defects (`pkg_<i>.py`'s `value()` returns 0, its test wants `i`), optionally a slow suite (`slow` tests of
 * `slowSeconds` each, which no candidate touches) and a culprit task (`units`: the model's first "fix" passes its
 * own test and breaks `tests/test_report.py`, which only the full suite runs).
 */
export function scaleFiles(
  k: number,
  opts: { slow?: number; slowSeconds?: number; culprit?: boolean } = {},
): Record<string, string> {
  const files: Record<string, string> = { "pytest.ini": "[pytest]\npythonpath = .\n" };
  for (let i = 1; i <= k; i++) {
    files[`pkg_${i}.py`] = "def value():\n    return 0\n";
    files[`tests/test_pkg_${i}.py`] =
      `from pkg_${i} import value\n\n\ndef test_value_${i}():\n    assert value() == ${i}\n`;
  }
  if (opts.slow) {
    const tests = Array.from(
      { length: opts.slow },
      (_, i) => `def test_slow_${i}():\n    time.sleep(${opts.slowSeconds ?? 0.5})\n`,
    );
    files["tests/test_slow.py"] = `import time\n\n\n${tests.join("\n\n")}`;
  }
  if (opts.culprit) {
    files["units.py"] = "FACTOR = 100\n\n\ndef to_cm(m):\n    return m * 10\n";
    files["report.py"] = 'from units import FACTOR\n\n\ndef label(m):\n    return f"{m * FACTOR} cm"\n';
    files["tests/test_units.py"] =
      "from units import to_cm\n\n\ndef test_to_cm():\n    assert to_cm(2) == 200\n";
    files["tests/test_report.py"] =
      'from report import label\n\n\ndef test_label():\n    assert label(1) == "100 cm"\n';
  }
  return files;
}

/** What the scripted model saw, in order: a task's first request (`start`) and its last (`end`). */
export type ScaleLog = Array<{ at: "start" | "end"; task: string }>;

/**
 * The scripted model for the scale fixture: for each task (read from the prompt's `Task:` line) it views the file,
 * replaces the wrong line and finishes, each answer after `delayMs`. The culprit's first fix is the bad one.
 */
export function scaleScript(delayMs: number, log: ScaleLog = []): Script {
  const culpritTries = { n: 0 };
  return (req: RecordedRequest): ScriptedReply => {
    const reply = scaleReply(req, log, culpritTries);
    return delayMs > 0 ? { type: "slow", ms: delayMs, reply } : reply;
  };
}

function scaleReply(req: RecordedRequest, log: ScaleLog, culpritTries: { n: number }): ScriptedReply {
  // biome-ignore lint/suspicious/noExplicitAny: wire JSON
  const messages: any[] = req.body?.messages ?? [];
  const first = JSON.stringify(messages.find((m) => m.role === "user")?.content ?? "");
  const task = /Task: [^\\]*?tests\/test_(\w+)\.py/.exec(first)?.[1] ?? "unknown";
  const stage = messages.filter((m) => m.role === "assistant").length;
  const file = `${task}.py`;
  if (stage === 0) {
    log.push({ at: "start", task });
    if (task === "units") culpritTries.n++;
    return { type: "tools", calls: [{ name: "view_file", args: { path: file } }] };
  }
  if (stage === 1) {
    const i = /^pkg_(\d+)$/.exec(task)?.[1];
    const edit =
      task === "units"
        ? culpritTries.n === 1
          ? {
              old_text: "FACTOR = 100\n\n\ndef to_cm(m):\n    return m * 10",
              new_text: "FACTOR = 20\n\n\ndef to_cm(m):\n    return m * 100",
            }
          : { old_text: "return m * 10", new_text: "return m * FACTOR" }
        : { old_text: "return 0", new_text: `return ${i}` };
    return { type: "tools", calls: [{ name: "replace_in_file", args: { path: file, ...edit } }] };
  }
  log.push({ at: "end", task });
  return { type: "tools", calls: [{ name: "finish", args: { summary: `fixed ${task}` } }] };
}
