import path from "node:path";
import { crashPoint } from "../core/crash-point.js";
import { EnvironmentStateError, UsageError } from "../core/errors.js";
import { type ImprovementEnvironment, MASTER_BRANCH } from "./environment.js";
import { git, gitRaw, gitTopLevel } from "./git.js";
import { WriterLock } from "./lock.js";

/**
 * The morning loop between Master and the user's repository (Sacred). `apply` is the one operation that writes into
 * Sacred, and only when the user runs it: Master's new commits as objects and one new branch, nothing else (never the
 * checked-out branch, the index or the working tree; no hook runs, no reflog, no FETCH_HEAD). `resync` moves Master
 * onto what the user's HEAD became after he merged, partly merged or left those commits.
 */

/** Master's tag at its base: the Sacred commit it was made from (init) or last resynced onto. */
export const SACRED_TAG = "sacred";
/** Master's tag at the commit the last `apply` offered. */
export const APPLIED_TAG = "odibi-improve/applied";

export interface ApplyResult {
  branch: string;
  /** Master's commits on the branch that Sacred's HEAD does not have (0: nothing to apply). */
  commits: number;
  head: string;
  /** The branch already pointed at Master's HEAD: nothing was written. */
  unchanged: boolean;
}

export interface ResyncResult {
  /** Sacred's HEAD: Master's new base. */
  base: string;
  previousBase: string;
  /** Master's commits the user's HEAD already has (merged, cherry-picked or applied as patches). */
  inSacred: string[];
  /** Replayed onto the new base: promotions the user has not taken (yet). */
  kept: string[];
  /** Left out: offered by the last `apply` and not taken (with --drop-unmerged), or conflicting with his changes. */
  dropped: { commit: string; subject: string; reason: string }[];
  /** Master's state before, kept as a snapshot (rollback returns to it). */
  snapshot?: string;
  head: string;
}

async function sacredRepository(env: ImprovementEnvironment, what: string): Promise<void> {
  const top = await gitTopLevel(env.sacred);
  if (top === undefined || path.resolve(top) !== env.guard.sacredReal)
    throw new UsageError(
      `Sacred (${env.sacred}) is not a git repository: \`${what}\` needs one`,
      "Use `odibi-improve export` for a patch series you can apply by hand.",
    );
  if ((await gitRaw(env.sacred, ["rev-parse", "--verify", "-q", "HEAD"])).exitCode !== 0)
    throw new UsageError(`Sacred (${env.sacred}) has no commit yet`, "Commit in your repository first.");
}

async function revParse(repo: string, rev: string): Promise<string | undefined> {
  const r = await gitRaw(repo, ["rev-parse", "--verify", "-q", `${rev}^{commit}`]);
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

async function withRunLock<T>(env: ImprovementEnvironment, fn: () => Promise<T>): Promise<T> {
  // Not under a running campaign's feet: it holds this lock from start to end.
  const lock = WriterLock.acquire(env.guard, env.layout.runLock, `the campaign lock of ${env.root}`);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * Create branch `branch` in Sacred at Master's HEAD. Refuses a branch that exists at another commit. Sacred's
 * fingerprint is recorded again afterwards (its `.git` changed on purpose).
 */
export async function applyToSacred(env: ImprovementEnvironment, branch: string): Promise<ApplyResult> {
  await sacredRepository(env, "apply");
  const valid = await gitRaw(env.sacred, ["check-ref-format", "--branch", branch]);
  if (valid.exitCode !== 0 || branch.startsWith("-"))
    throw new UsageError(`"${branch}" is not a valid branch name`, "Pass another name with --branch.");
  return withRunLock(env, async () => {
    const master = env.layout.master;
    const head = await revParse(master, MASTER_BRANCH);
    if (!head) throw new EnvironmentStateError(`Master has no ${MASTER_BRANCH} branch`);
    const sacredHead = (await git(env.sacred, ["rev-parse", "HEAD"])).trim();
    // What Sacred's HEAD lacks, counted in Master (Sacred's HEAD may be unknown there: then Master's base).
    const have = (await revParse(master, sacredHead)) ?? SACRED_TAG;
    const commits = Number((await git(master, ["rev-list", "--count", `${have}..${head}`])).trim());
    const ref = `refs/heads/${branch}`;
    const existing = await revParse(env.sacred, ref);
    if (existing === head) return { branch, commits, head, unchanged: true };
    if (existing)
      throw new UsageError(
        `branch ${branch} already exists in your repository (at ${existing.slice(0, 10)})`,
        "Pass another name with --branch, or delete that branch in your repository first.",
      );
    if (commits === 0) return { branch, commits, head, unchanged: true };
    // Run in Sacred, reading Master: only objects and the new ref are written (no reflog, no FETCH_HEAD; hooks and
    // auto maintenance are off for every git call; the objects are checked by fsck before they land).
    await git(env.sacred, [
      ...[
        "-c",
        "core.logAllRefUpdates=false",
        "-c",
        "maintenance.auto=false",
        "-c",
        "fetch.fsckObjects=true",
      ],
      ...["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-auto-maintenance"],
      "--",
      master,
      `refs/heads/${MASTER_BRANCH}:${ref}`,
    ]);
    const landed = await revParse(env.sacred, ref);
    if (landed !== head)
      throw new EnvironmentStateError(
        `branch ${branch} in your repository is at ${landed ?? "(missing)"}, not Master's ${head}`,
      );
    await git(master, ["tag", "-f", APPLIED_TAG, head]);
    env.recordSacred();
    return { branch, commits, head, unchanged: false };
  });
}

/**
 * Rebase Master onto Sacred's HEAD: Master's commits since its base that Sacred's HEAD lacks (by ancestry or by
 * patch) are replayed one by one onto it; a commit that conflicts with the user's changes is left out and listed. With
 * `dropUnmerged`, commits the last `apply` offered that the user did not take are left out too. Master is snapshot
 * first; memory, config and reports are untouched. Refuses while a campaign runs or waits for `run --resume`.
 */
export async function resyncMaster(
  env: ImprovementEnvironment,
  opts: { dropUnmerged?: boolean; crashed?: boolean } = {},
): Promise<ResyncResult> {
  await sacredRepository(env, "resync");
  if (opts.crashed)
    throw new UsageError(
      "the last campaign was interrupted and waits for recovery",
      "Run `odibi-improve run --resume` (it recovers and can stop at once with --max-cycles 0), then resync.",
    );
  return withRunLock(env, async () => {
    const master = env.layout.master;
    await env.reattachMaster(); // a resync killed mid-replay left HEAD detached
    await env.assertMasterClean("resync");
    const previousBase = await revParse(master, SACRED_TAG);
    if (!previousBase) throw new EnvironmentStateError(`Master has no tag ${SACRED_TAG} (its base)`);
    await git(master, ["fetch", "--quiet", "--no-tags", "--", env.sacred, "HEAD"]);
    const base = (await git(master, ["rev-parse", "FETCH_HEAD^{commit}"])).trim();
    const before = (await git(master, ["rev-parse", "HEAD"])).trim();
    const applied = await revParse(master, APPLIED_TAG);
    const offered = new Set(applied ? await lines(master, ["rev-list", `${previousBase}..${applied}`]) : []);
    // `git cherry`: Master's commits since its base that are not reachable from Sacred's HEAD, `-` when a commit of
    // the same patch is there (cherry-picked, or applied from the exported series).
    const cherry = (await lines(master, ["cherry", base, before, previousBase])).map((l) => ({
      mark: l[0],
      commit: l.slice(2),
    }));
    const all = await lines(master, ["rev-list", "--reverse", `${previousBase}..${before}`]);
    const result: ResyncResult = { base, previousBase, inSacred: [], kept: [], dropped: [], head: base };
    const replay: string[] = [];
    for (const c of all) {
      const mark = cherry.find((x) => x.commit === c)?.mark;
      if (mark === undefined || mark === "-") result.inSacred.push(c);
      else if (opts.dropUnmerged && offered.has(c))
        result.dropped.push({ commit: c, subject: await subject(master, c), reason: "offered, not merged" });
      else replay.push(c);
    }
    if (base === previousBase && replay.length === all.length && result.dropped.length === 0)
      return { ...result, kept: all, head: before };
    // A name of its own, also for a resync within the same second as one a kill interrupted.
    const taken = new Set(env.listSnapshots().map((x) => x.name));
    let name = `before_resync_${stampNow()}`;
    for (let i = 2; taken.has(name); i++) name = `before_resync_${stampNow()}_${i}`;
    result.snapshot = (await env.snapshotMaster(name)).name;
    // Replayed on a detached HEAD: the branch moves only at the end, so a failure leaves Master as it was.
    await git(master, ["checkout", "-q", "--detach", base]);
    try {
      for (const c of replay) {
        const r = await gitRaw(master, ["cherry-pick", "--allow-empty-message", c]);
        if (r.exitCode === 0) {
          result.kept.push(c);
          crashPoint("resync:picked");
          continue;
        }
        // Unmerged paths: a conflict; none: the change is already there (the pick came out empty).
        const conflicted = (await git(master, ["diff", "--name-only", "--diff-filter=U"])).trim() !== "";
        await gitRaw(master, ["cherry-pick", "--abort"]);
        await git(master, ["reset", "-q", "--hard", "HEAD"]);
        if (!conflicted) result.inSacred.push(c);
        else
          result.dropped.push({
            commit: c,
            subject: await subject(master, c),
            reason: "conflicts with your changes",
          });
      }
    } catch (e) {
      await gitRaw(master, ["cherry-pick", "--abort"]);
      await gitRaw(master, ["checkout", "-q", "-f", MASTER_BRANCH]);
      throw e;
    }
    await git(master, ["checkout", "-q", "-B", MASTER_BRANCH]);
    await git(master, ["tag", "-f", SACRED_TAG, base]);
    await gitRaw(master, ["tag", "-d", APPLIED_TAG]);
    result.head = (await git(master, ["rev-parse", "HEAD"])).trim();
    env.recordSacred();
    return result;
  });
}

async function lines(repo: string, args: string[]): Promise<string[]> {
  return (await git(repo, args)).split("\n").filter(Boolean);
}

async function subject(repo: string, commit: string): Promise<string> {
  return (await git(repo, ["log", "-1", "--format=%s", commit])).trim();
}

function stampNow(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "")
    .replace("T", "_");
}
