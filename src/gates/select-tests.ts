import { lstatSync, readdirSync } from "node:fs";
import path from "node:path";
import { readRegularFile } from "../exec/read-regular-file.js";

/**
 * Tests touching a change, for the cascade's cheap step: changed test files themselves, and test files that
 * mention a changed module (import of its dotted path or its file stem). A heuristic that only orders work: the
 * full suite still runs before any promotion. The tree is a candidate's: links are not followed and only
 * regular files are read (a FIFO named like a test would block the read, and the whole process with it).
 */
const SKIP_DIRS = new Set([
  ".git",
  "node_modules",
  ".venv",
  "venv",
  "__pycache__",
  "target",
  "dist",
  ".odibi-improve",
]);
const MAX_FILES = 5000;
const MAX_TEST_FILE_BYTES = 4 * 1024 * 1024;

export function isTestFile(rel: string): boolean {
  const b = path.posix.basename(rel);
  return (
    /^test_.*\.py$/.test(b) ||
    /_test\.py$/.test(b) ||
    /\.(test|spec)\.[cm]?[jt]sx?$/.test(b) ||
    (/\.[cm]?js$/.test(b) && rel.split("/").includes("test"))
  );
}

export function listTestFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    if (out.length >= MAX_FILES) return;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      if (SKIP_DIRS.has(n)) continue;
      const abs = path.join(dir, n);
      const r = rel ? `${rel}/${n}` : n;
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(abs);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(abs, r);
      else if (st.isFile() && isTestFile(r)) out.push(r);
    }
  };
  walk(root, "");
  return out;
}

/** Test files (relative, `/`) touching the changed files. Go: the changed packages' folders (`./pkg`). */
export function selectTestsForChanges(
  workdir: string,
  changedFiles: readonly string[],
  tool: string,
): string[] {
  const changed = changedFiles.map((f) => f.replace(/\\/g, "/").replace(/^\.\//, ""));
  if (changed.length === 0) return [];
  if (tool === "go-test") {
    const dirs = new Set(changed.filter((f) => f.endsWith(".go")).map((f) => path.posix.dirname(f)));
    return [...dirs].map((d) => (d === "." ? "." : `./${d}`));
  }
  if (tool === "cargo-test") return [];
  const tests = listTestFiles(workdir);
  const selected = new Set(changed.filter((f) => tests.includes(f)));
  const needles = changed
    .filter((f) => !tests.includes(f) && /\.(py|[cm]?[jt]sx?)$/.test(f))
    .map((f) => {
      const noExt = f.replace(/\.[^./]+$/, "");
      const dotted = noExt
        .replace(/^src\//, "")
        .replace(/\//g, ".")
        .replace(/\.__init__$/, "");
      const stem =
        path.posix.basename(noExt) === "__init__"
          ? path.posix.basename(path.posix.dirname(noExt))
          : path.posix.basename(noExt);
      return {
        dotted,
        stem: new RegExp(`(import|from|require\\()[^\\n]*\\b${stem.replace(/[^\w]/g, "\\$&")}\\b`),
      };
    });
  if (needles.length > 0) {
    for (const t of tests) {
      if (selected.has(t)) continue;
      const read = readRegularFile(path.join(workdir, t), MAX_TEST_FILE_BYTES);
      if (read.kind !== "text") continue;
      const text = read.text;
      if (needles.some((n) => text.includes(n.dotted) || n.stem.test(text))) selected.add(t);
    }
  }
  return [...selected].filter((t) => tool !== "pytest" || t.endsWith(".py"));
}
