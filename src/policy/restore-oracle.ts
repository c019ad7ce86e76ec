import { git } from "../environment/git.js";
import { assertSafeGitTree } from "../environment/tree-safety.js";
import { oracleGlobOf } from "./oracle.js";

/** Paths per git call: well under every system's command-line limit. */
const CHUNK = 200;

async function inChunks(paths: string[], run: (chunk: string[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < paths.length; i += CHUNK) await run(paths.slice(i, i + CHUNK));
}

const split0 = (s: string) => s.split("\0").filter(Boolean);

/**
 * Put Master's oracle back over a candidate before the gates judge it: every oracle file (src/profiles/oracle-paths.ts)
 * the sandbox's work tree has changed or deleted is checked out from `baseCommit`, and every oracle path that is
 * not in `baseCommit` (a new conftest.py, pytest.toml, ruff.toml, a test file; also ignored or untracked ones, and
 * a symlink standing where an oracle folder was) is removed. The gates then see Master's tests and checker
 * configuration whatever form a candidate's change took; the policy (`oracle-modified`) rejects the change itself.
 * `keepNew` keeps oracle paths Master does not have (a new-feature task's new test files).
 * Mixed files (pyproject.toml…) are left as they are: their oracle parts are the policy's to compare.
 *
 * Everything is done by git inside the sandbox, which neither follows a symlink out of the work tree nor writes
 * through one (`checkout` replaces a symlinked leading folder; `rm` and `clean` unlink, never follow). Pathspecs
 * are literal. The tree is walked first (candidate code may have run since the last walk): UnsafeGitTreeError, and
 * no git command, when it holds what git must not see. `keepNew`: oracle paths Master does not have that stay (a
 * test-adding task's new test files). Returns the paths restored or removed, sorted.
 */
export async function restoreOracle(
  sandbox: string,
  baseCommit: string,
  oracle: readonly string[],
  keepNew?: (path: string) => boolean,
): Promise<string[]> {
  await assertSafeGitTree(sandbox, baseCommit);
  const isOracle = (p: string) => Boolean(oracleGlobOf(p, oracle) ?? oracleGlobOf(`${p}/`, oracle));
  const g = (args: string[]) => git(sandbox, ["--literal-pathspecs", ...args]);
  const base = new Set(split0(await g(["ls-tree", "-r", "-z", "--name-only", baseCommit])));
  const changed = split0(await g(["diff", "--name-only", "-z", "--no-renames", baseCommit, "--"]));
  const untracked = split0(await g(["ls-files", "-z", "--others"]));
  // A path inside a folder that stands where Master has an oracle file (pytest.ini/x) is in that file's way.
  const inTheWay = (p: string) =>
    p
      .split("/")
      .slice(0, -1)
      .some((_, i, parts) => {
        const prefix = parts.slice(0, i + 1).join("/");
        return base.has(prefix) && isOracle(prefix);
      });
  const touched = [...new Set([...changed, ...untracked])]
    .filter((p) => isOracle(p) || inTheWay(p))
    .filter((p) => base.has(p) || inTheWay(p) || !keepNew?.(p))
    .sort();
  const extra = touched.filter((p) => !base.has(p));
  const back = touched.filter((p) => base.has(p));
  // First what Master does not have (so a symlink or file standing where an oracle folder was is gone), then
  // Master's files.
  await inChunks(extra, (c) => g(["rm", "-r", "-q", "-f", "--cached", "--ignore-unmatch", "--", ...c]));
  await inChunks(extra, (c) => g(["clean", "-q", "-f", "-f", "-d", "-x", "--", ...c]));
  await inChunks(back, (c) => g(["checkout", "-q", baseCommit, "--", ...c]));
  return touched;
}
