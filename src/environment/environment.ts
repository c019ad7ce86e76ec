import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
} from "node:fs";
import path from "node:path";
import { type Config, type ConfigInput, loadConfig, parseConfig, renderConfig } from "../config/index.js";
import { crashingAt, crashPoint } from "../core/crash-point.js";
import { EnvironmentStateError, NotFoundError, UsageError } from "../core/errors.js";
import { removeRetrying, renameRetrying } from "../core/fs-retry.js";
import { processRedactor } from "../llm/redact.js";
import { mkdirGuarded, rmGuarded, writeFileAtomic } from "./fs-safe.js";
import { git, gitRaw, gitTopLevel, headCommit, statusLines, treeHash } from "./git.js";
import { LAYOUT_DIRS, type Layout, layoutOf, OWNED_NAMES, sandboxName } from "./layout.js";
import { WriterLock } from "./lock.js";
import { type Fingerprint, isInside, SacredGuard, takeFingerprint, verifyFingerprint } from "./sacred.js";
import { assertSafeGitTree, removeUnsafeGitPaths } from "./tree-safety.js";

export const MASTER_BRANCH = "master";

export interface InitOptions {
  source: string;
  root: string;
  /**
   * The repository's profile (src/profiles: `detectProfile` or `profileOf`), written to config.yaml with its gates
   * required. Default: generic, with no gate of its own.
   */
  profile?: InitProfile;
  allowDirty?: boolean;
  force?: boolean;
  log?: (line: string) => void;
}

/** What init writes of a profile: its name, and its gates (`gates.required`: those required by default). */
export interface InitProfile {
  name: string;
  gates: readonly { name: string; requiredByDefault?: boolean }[];
}

export interface SandboxInfo {
  id: string;
  path: string;
  /** Master commit the sandbox was made from. */
  baseCommit: string;
  createdAt: string;
}

export interface SnapshotInfo {
  name: string;
  commit: string;
  tree: string;
  createdAt: string;
  tag: string;
  archive?: string;
}

export interface PromotionInfo {
  cycleId: string;
  task: string;
  gatesPassed: string[];
  details?: string;
}

export interface PromotionResult {
  commit: string;
  previous: string;
  filesChanged: string[];
}

const SANDBOX_META = ".odibi-improve-sandbox.json";

/** The keys git sets by probing the file system when it clones (Windows: symlinks, macOS/Windows: ignorecase). */
const PROBED_GIT_KEYS = ["symlinks", "ignorecase", "precomposeunicode"] as const;

/**
 * A sandbox's whole git config, written by us (a candidate may have edited the old one), with the file-system
 * probes of Master's clone (`core.symlinks = false` on Windows, `core.ignorecase = true` on a case-insensitive
 * disk) kept, so git in a sandbox sees the disk as git in Master does.
 */
export function sandboxGitConfig(
  probed: Partial<Record<(typeof PROBED_GIT_KEYS)[number], boolean>> = {},
): string {
  return [
    "[core]",
    "\trepositoryformatversion = 0",
    `\tfilemode = ${process.platform === "win32" ? "false" : "true"}`,
    "\tbare = false",
    "\tautocrlf = false",
    ...PROBED_GIT_KEYS.flatMap((k) => (probed[k] === undefined ? [] : [`\t${k} = ${probed[k]}`])),
    "[user]",
    "\tname = odibi-improve",
    "\temail = odibi-improve@localhost",
    "",
  ].join("\n");
}

function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-");
}

/**
 * The Sacred → Master → Sandboxes hierarchy (roadmap E0). Every write goes through the Sacred guard;
 * Master only changes through promote and rollback.
 */
export class ImprovementEnvironment {
  readonly layout: Layout;
  readonly config: Config;
  readonly guard: SacredGuard;

  private constructor(layout: Layout, config: Config) {
    this.layout = layout;
    this.config = config;
    this.guard = new SacredGuard(this.sacred);
  }

  get root(): string {
    return this.layout.root;
  }
  get sacred(): string {
    return path.resolve(this.layout.root, this.config.source.sacred_repo);
  }

  /** Open an existing environment (reads config.yaml). */
  static open(root: string): ImprovementEnvironment {
    const layout = layoutOf(root);
    if (!existsSync(layout.config))
      throw new NotFoundError(
        `${layout.root} is not an odibi-improve environment (no config.yaml)`,
        "Create one with `odibi-improve init --source <your repo> --root <root>`, or pass the right --root.",
      );
    const config = loadConfig(layout.config);
    if (!existsSync(path.join(layout.master, ".git")))
      throw new EnvironmentStateError(`Master is missing at ${layout.master}`, {
        hint: "The environment is incomplete (init interrupted?). Re-run `odibi-improve init --force` (nothing is deleted: old items are moved aside).",
      });
    return new ImprovementEnvironment(layout, config);
  }

  /** Create the environment: layout, config.yaml, Master from Sacred, Sacred's fingerprint. */
  static async init(opts: InitOptions): Promise<ImprovementEnvironment> {
    const log = opts.log ?? (() => {});
    if (!opts.source)
      throw new UsageError("--source is required", "Pass the path of the repository to improve.");
    const source = path.resolve(opts.source);
    if (!existsSync(source))
      throw new UsageError(
        `source ${source} does not exist`,
        "Pass an existing repository folder with --source.",
      );
    if (!statSync(source).isDirectory()) throw new UsageError(`source ${source} is not a folder`);
    const layout = layoutOf(opts.root);
    const guard = new SacredGuard(source);
    const rootReal = path.resolve(layout.root);
    if (isInside(rootReal, guard.sacredReal) || isInside(rootReal, source))
      throw new UsageError(
        `root ${rootReal} is inside the source ${source}`,
        "Choose a root outside the repository (e.g. a sibling folder).",
      );
    if (isInside(guard.sacredReal, rootReal) || isInside(source, rootReal))
      throw new UsageError(
        `source ${source} is inside root ${rootReal}`,
        "Choose a root that does not contain the repository.",
      );

    if (!isEmptyDir(layout.root)) {
      if (!opts.force)
        throw new UsageError(
          `root ${layout.root} is not empty`,
          "Choose an empty or new folder, or pass --force to re-initialise (existing odibi-improve items are moved aside into .replaced-<time>/, never deleted).",
        );
      // Not from under a running campaign: its lock must be free (a dead holder's is taken over, then let go).
      if (existsSync(layout.state))
        WriterLock.acquire(guard, layout.runLock, `the campaign lock of ${layout.root}`).release();
      const aside = path.join(layout.root, `.replaced-${stamp()}`);
      for (const name of OWNED_NAMES) {
        const p = path.join(layout.root, name);
        if (existsSync(p)) {
          guard.assertWritable(aside);
          mkdirSync(aside, { recursive: true });
          renameRetrying(p, path.join(aside, name));
          log(`moved existing ${name} to ${aside}`);
        }
      }
    }
    mkdirGuarded(guard, layout.root);

    // Sacred: is it a git repository (its own top level)?
    const top = await gitTopLevel(source);
    const sacredIsRepo = top !== undefined && path.resolve(top) === guard.sacredReal;
    let dirty: string[] = [];
    if (sacredIsRepo) {
      dirty = await statusLines(source);
      if (dirty.length > 0 && !opts.allowDirty)
        throw new UsageError(
          `Sacred has ${dirty.length} uncommitted change(s) (e.g. ${dirty.slice(0, 3).join("; ")})`,
          "Commit or stash them in your repository first, or pass --allow-dirty to take the working tree as it is as Master's first commit.",
        );
    }
    const fingerprint = takeFingerprint(source);

    const tmpMaster = path.join(layout.root, `.master-init-${process.pid}`);
    rmGuarded(guard, tmpMaster);
    try {
      if (sacredIsRepo) {
        const hasCommits = (await gitRaw(source, ["rev-parse", "--verify", "-q", "HEAD"])).exitCode === 0;
        if (hasCommits) {
          log(`cloning ${source} into Master`);
          // --no-local: copy objects through the pack protocol instead of hard-linking Sacred's object files
          // (a hard link changes the inode's ctime: Sacred must not see even that).
          await git(layout.root, [
            "clone",
            "--no-local",
            "--no-hardlinks",
            "--quiet",
            "--",
            source,
            tmpMaster,
          ]);
          await git(tmpMaster, ["checkout", "-q", "-B", MASTER_BRANCH]);
          if (dirty.length > 0) await copyWorkingTree(source, tmpMaster, true);
        } else {
          await initFromFolder(source, tmpMaster, true);
        }
      } else {
        log(`copying ${source} into Master (plain folder: git init)`);
        await initFromFolder(source, tmpMaster, false);
      }
      await git(tmpMaster, ["config", "user.name", "odibi-improve"]);
      await git(tmpMaster, ["config", "user.email", "odibi-improve@localhost"]);
      await git(tmpMaster, ["config", "core.autocrlf", "false"]);
      await git(tmpMaster, ["tag", "-f", "sacred", "HEAD"]);
      renameRetrying(tmpMaster, layout.master);
    } catch (e) {
      removeRetrying(tmpMaster);
      throw e;
    }

    for (const d of LAYOUT_DIRS) mkdirGuarded(guard, layout[d]);
    const { name: profile, gates } = opts.profile ?? { name: "generic", gates: [] };
    const configInput: ConfigInput = {
      environment: { version: "1.0.0", created_at: new Date().toISOString() },
      source: { sacred_repo: source.split(path.sep).join("/"), auto_reset_master: false },
      profile,
      // Every gate the profile requires by default, by name: edit the list to leave one out.
      gates: { required: gates.filter((g) => g.requiredByDefault !== false).map((g) => g.name) },
      stop_conditions: { max_cycles: 10, max_hours: 4, convergence_cycles: 3 },
      commands: {},
      snapshots: { enabled: true, max_snapshots: 10, compress: true },
    };
    const text = renderConfig(configInput);
    parseConfig(text, layout.config); // what we write must load
    writeFileAtomic(guard, layout.config, text);
    writeFileAtomic(guard, layout.sacredFingerprint, JSON.stringify(fingerprint));
    const env = ImprovementEnvironment.open(layout.root);
    env.verifySacred();
    log(`environment ready at ${layout.root} (profile ${profile})`);
    return env;
  }

  // ---- Sacred -------------------------------------------------------------------------------------------

  recordedFingerprint(): Fingerprint | undefined {
    if (!existsSync(this.layout.sacredFingerprint)) return undefined;
    return JSON.parse(readFileSync(this.layout.sacredFingerprint, "utf8")) as Fingerprint;
  }

  /** Throws SacredViolation when Sacred differs from the given fingerprint (default: the one recorded at init). */
  verifySacred(against?: Fingerprint): void {
    const fp = against ?? this.recordedFingerprint();
    if (fp) verifyFingerprint(fp, this.sacred);
  }

  /** Re-record Sacred's fingerprint (after the human changed Sacred on purpose). */
  recordSacred(): Fingerprint {
    const fp = takeFingerprint(this.sacred);
    writeFileAtomic(this.guard, this.layout.sacredFingerprint, JSON.stringify(fp));
    return fp;
  }

  // ---- Master -------------------------------------------------------------------------------------------

  async masterHead(): Promise<string> {
    return headCommit(this.layout.master);
  }

  async masterDirty(): Promise<string[]> {
    return statusLines(this.layout.master);
  }

  async assertMasterClean(action: string): Promise<void> {
    const dirty = await this.masterDirty();
    if (dirty.length > 0)
      throw new EnvironmentStateError(
        `Master has uncommitted changes; refusing to ${action}: ${dirty.slice(0, 5).join("; ")}`,
        {
          exitCode: 1,
          hint: `Master changes only through promotions. Inspect with \`git -C "${this.layout.master}" status\`; keep the changes with \`git -C "${this.layout.master}" stash\` (nothing is lost), then retry.`,
        },
      );
  }

  // ---- Sandboxes ----------------------------------------------------------------------------------------

  /**
   * An independent working copy of Master's HEAD: a shared clone (objects borrowed from Master through
   * alternates, so it is cheap; refs and index are its own, so nothing run inside it can move Master).
   */
  async createSandbox(cycleId: string | number, opts: { reuse?: boolean } = {}): Promise<SandboxInfo> {
    const id = sandboxName(cycleId);
    const dir = path.join(this.layout.sandboxes, id);
    if (existsSync(dir))
      throw new EnvironmentStateError(`sandbox ${id} already exists at ${dir}`, {
        hint: `Destroy it first: \`odibi-improve sandbox destroy ${id}\`.`,
      });
    this.guard.assertWritable(dir);
    mkdirSync(this.layout.sandboxes, { recursive: true });
    const base = await this.masterHead();
    let reused = false;
    if (opts.reuse && existsSync(this.warmSandbox)) {
      renameRetrying(this.warmSandbox, dir);
      try {
        await this.resetSandbox(dir, base);
        reused = true;
      } catch {
        rmGuarded(this.guard, dir); // could not be reset: make a fresh one
      }
    }
    if (!reused) {
      try {
        await git(this.layout.sandboxes, [
          "clone",
          "--shared",
          "--quiet",
          "--no-checkout",
          "--",
          this.layout.master,
          dir,
        ]);
        writeFileAtomic(this.guard, path.join(dir, ".git", "config"), await this.sandboxConfig());
        await git(dir, ["checkout", "-q", "--detach", base]);
      } catch (e) {
        rmGuarded(this.guard, dir);
        throw e;
      }
    }
    const info: SandboxInfo = { id, path: dir, baseCommit: base, createdAt: new Date().toISOString() };
    // Kept inside .git so it is never part of the sandbox's diff.
    writeFileAtomic(this.guard, path.join(dir, ".git", SANDBOX_META), JSON.stringify(info));
    return info;
  }

  private probedGit?: Promise<string>;

  /** `sandboxGitConfig` with Master's file-system probes (read once; only `true` / `false` values are taken). */
  private sandboxConfig(): Promise<string> {
    this.probedGit ??= (async () => {
      const probed: Partial<Record<(typeof PROBED_GIT_KEYS)[number], boolean>> = {};
      for (const k of PROBED_GIT_KEYS) {
        const v = (
          await gitRaw(this.layout.master, ["config", "--local", "--get", `core.${k}`])
        ).stdout.trim();
        if (v === "true" || v === "false") probed[k] = v === "true";
      }
      return sandboxGitConfig(probed);
    })();
    return this.probedGit;
  }

  private get warmSandbox(): string {
    return path.join(this.layout.sandboxes, ".pool", "warm");
  }

  /**
   * Make a used sandbox an exact copy of `base` again. Only what differs is rewritten, so on a large tree this
   * costs a stat of every file instead of a write of every file. Everything a candidate could have planted in
   * `.git` that matters (config, hooks, alternates) is rewritten from scratch; ignored and untracked files go.
   */
  private async resetSandbox(dir: string, base: string): Promise<void> {
    const dotGit = path.join(dir, ".git");
    if (!lstatSync(dotGit, { throwIfNoEntry: false })?.isDirectory())
      throw new EnvironmentStateError(`${dotGit} is not a folder`); // never written through a link
    writeFileAtomic(this.guard, path.join(dotGit, "config"), await this.sandboxConfig());
    rmGuarded(this.guard, path.join(dotGit, "hooks"));
    rmGuarded(this.guard, path.join(dotGit, "info", "exclude"));
    writeFileAtomic(
      this.guard,
      path.join(dotGit, "objects", "info", "alternates"),
      `${path.join(this.layout.master, ".git", "objects")}\n`,
    );
    await removeUnsafeGitPaths(dir, base);
    await git(dir, ["checkout", "-q", "-f", "--detach", base]);
    await git(dir, ["clean", "-q", "-ffdx"]);
    if (
      (await statusLines(dir)).length > 0 ||
      (await treeHash(dir)) !== (await treeHash(this.layout.master, base))
    )
      throw new EnvironmentStateError(`sandbox ${dir} could not be reset`);
  }

  getSandbox(cycleId: string | number): SandboxInfo {
    const id = sandboxName(cycleId);
    const dir = path.join(this.layout.sandboxes, id);
    const meta = path.join(dir, ".git", SANDBOX_META);
    if (!existsSync(meta))
      throw new NotFoundError(`no sandbox ${id}`, "List them with `odibi-improve sandbox list`.");
    return JSON.parse(readFileSync(meta, "utf8")) as SandboxInfo;
  }

  listSandboxes(): SandboxInfo[] {
    if (!existsSync(this.layout.sandboxes)) return [];
    const out: SandboxInfo[] = [];
    for (const name of readdirSync(this.layout.sandboxes).sort()) {
      if (name.startsWith(".")) continue; // the pool
      const meta = path.join(this.layout.sandboxes, name, ".git", SANDBOX_META);
      if (existsSync(meta)) out.push(JSON.parse(readFileSync(meta, "utf8")) as SandboxInfo);
      else
        out.push({ id: name, path: path.join(this.layout.sandboxes, name), baseCommit: "", createdAt: "" });
    }
    return out;
  }

  /**
   * Remove a sandbox completely. Idempotent. With `recycle`, the folder is instead parked as the one warm sandbox
   * that the next `createSandbox({ reuse: true })` resets (much cheaper than a new checkout on large trees).
   */
  async destroySandbox(
    sandbox: SandboxInfo | string | number,
    opts: { recycle?: boolean } = {},
  ): Promise<void> {
    const id = typeof sandbox === "object" ? sandbox.id : sandboxName(sandbox);
    const dir = path.join(this.layout.sandboxes, id);
    if (!isInside(path.resolve(dir), this.layout.sandboxes) || path.resolve(dir) === this.layout.sandboxes)
      throw new UsageError(`refusing to remove ${dir}: not a sandbox folder`);
    if (opts.recycle && existsSync(path.join(dir, ".git")) && !existsSync(this.warmSandbox)) {
      this.guard.assertWritable(this.warmSandbox);
      rmSync(path.join(dir, ".git", SANDBOX_META), { force: true });
      mkdirSync(path.dirname(this.warmSandbox), { recursive: true });
      renameRetrying(dir, this.warmSandbox);
      return;
    }
    rmGuarded(this.guard, dir);
  }

  /** Leftovers of a crashed run: every sandbox folder (and init temp) is removed. Returns what was cleaned. */
  async cleanupOrphans(): Promise<string[]> {
    const cleaned: string[] = [];
    for (const s of this.listSandboxes()) {
      await this.destroySandbox(s.id);
      cleaned.push(s.id);
    }
    for (const name of existsSync(this.layout.root) ? readdirSync(this.layout.root) : []) {
      if (name.startsWith(".master-init-")) {
        rmGuarded(this.guard, path.join(this.layout.root, name));
        cleaned.push(name);
      }
    }
    return cleaned;
  }

  /**
   * Files changed in the sandbox against its base (tracked changes + untracked, not ignored). Throws
   * UnsafeGitTreeError (no git command run) when the tree holds a path git must not see.
   */
  async sandboxChanges(sandbox: SandboxInfo): Promise<string[]> {
    await assertSafeGitTree(sandbox.path, sandbox.baseCommit);
    return (await statusLines(sandbox.path)).map((l) => l.slice(3));
  }

  /**
   * Unified diff of the sandbox against its base, untracked files included. Does not change the sandbox's HEAD.
   * Throws UnsafeGitTreeError (no git command run) when the tree holds a path git must not see.
   */
  async sandboxDiff(sandbox: SandboxInfo): Promise<string> {
    await assertSafeGitTree(sandbox.path, sandbox.baseCommit);
    await git(sandbox.path, ["add", "-A", "-N"]);
    return git(sandbox.path, [
      "diff",
      "--no-color",
      "--no-ext-diff",
      "--no-textconv",
      "--binary",
      sandbox.baseCommit,
      "--",
    ]);
  }

  // ---- Promotion ----------------------------------------------------------------------------------------

  /**
   * Commit the sandbox's changes onto Master. Atomic: the sandbox commit is fetched into Master's object store
   * first; then a fast-forward moves Master's branch. Either the new commit is there or Master is unchanged.
   */
  async promoteToMaster(sandbox: SandboxInfo, info: PromotionInfo): Promise<PromotionResult> {
    await this.assertMasterClean("promote");
    const previous = await this.masterHead();
    if (previous !== sandbox.baseCommit)
      throw new EnvironmentStateError(
        `Master moved since sandbox ${sandbox.id} was made (${sandbox.baseCommit.slice(0, 10)} → ${previous.slice(0, 10)})`,
        { hint: "Re-run the cycle on a fresh sandbox; promotions are serialised." },
      );
    const frozen = (await headCommit(sandbox.path)) !== sandbox.baseCommit;
    if (frozen) {
      // A frozen candidate (freezeCandidate): drop whatever the gates wrote since, then re-commit exactly the
      // candidate's changes with the promotion message.
      await this.cleanSandbox(sandbox, "HEAD");
      await git(sandbox.path, ["reset", "-q", "--soft", sandbox.baseCommit]);
    } else {
      await assertSafeGitTree(sandbox.path, sandbox.baseCommit);
      await git(sandbox.path, ["add", "-A"]);
    }
    const files = (await git(sandbox.path, ["diff", "--cached", "--name-only", "-z"]))
      .split("\0")
      .filter(Boolean);
    if (files.length === 0)
      throw new EnvironmentStateError(`sandbox ${sandbox.id} has no changes to promote`);
    const message = [
      `odibi-improve: cycle ${info.cycleId}: ${info.task}`.slice(0, 200),
      "",
      `Cycle: ${info.cycleId}`,
      `Task: ${info.task}`,
      `Files changed: ${files.join(", ")}`,
      `Gates passed: ${info.gatesPassed.join(", ") || "(none configured)"}`,
      ...(info.details ? ["", info.details] : []),
    ].join("\n");
    await git(sandbox.path, ["commit", "-q", "--no-verify", "-F", "-"], {
      input: processRedactor().text(message),
    });
    const commit = await headCommit(sandbox.path);
    crashPoint("promote:committed");
    await git(this.layout.master, ["fetch", "-q", "--no-tags", "--", sandbox.path, commit]);
    crashPoint("promote:fetched");
    if (crashingAt("promote:merging")) {
      // What a merge killed half-way leaves: Master's index and tree at the commit, its branch still before it.
      await git(this.layout.master, ["read-tree", "-u", "-m", "HEAD", commit]);
      crashPoint("promote:merging");
    }
    await git(this.layout.master, ["merge", "-q", "--ff-only", commit]);
    const now = await this.masterHead();
    if (now !== commit) throw new EnvironmentStateError(`promotion did not move Master to ${commit}`);
    return { commit, previous, filesChanged: files };
  }

  /**
   * Record the candidate as it is now (a commit in the sandbox), before the gates run on it: gates write files
   * (test data, caches, odibi's system catalog) that must never be mistaken for the candidate's changes. With
   * `paths`, only those paths are taken (an LLM reports the files it wrote). Returns the diff against the base.
   * The whole tree is walked first: when it holds a path git must not see, UnsafeGitTreeError is thrown before any
   * git command runs (the caller rejects the candidate, rule `unsafe-git-path`, and cleans the sandbox).
   */
  async freezeCandidate(
    sandbox: SandboxInfo,
    paths?: string[],
  ): Promise<{ commit: string; files: string[]; diff: string }> {
    await assertSafeGitTree(sandbox.path, sandbox.baseCommit);
    if (paths) {
      if (paths.length) await git(sandbox.path, ["add", "-A", "--", ...paths]);
    } else await git(sandbox.path, ["add", "-A"]);
    await git(sandbox.path, [
      "commit",
      "-q",
      "--no-verify",
      "--allow-empty",
      "-m",
      "odibi-improve: candidate",
    ]);
    const commit = await headCommit(sandbox.path);
    await this.cleanSandbox(sandbox, commit);
    const files = (await git(sandbox.path, ["diff", "--name-only", "-z", sandbox.baseCommit, commit]))
      .split("\0")
      .filter(Boolean);
    const diff = await git(sandbox.path, [
      "diff",
      "--no-color",
      "--no-ext-diff",
      "--no-textconv",
      "--binary",
      sandbox.baseCommit,
      commit,
    ]);
    return { commit, files, diff };
  }

  /**
   * Re-apply candidate commits (each the child of the base it was made on, in `from`'s repository) onto `sandbox`,
   * first moved to `onto` (default Master's HEAD) when given: the sandbox's base becomes `onto`, and each commit is
   * cherry-picked in order. Returns the new candidate commit, or the commit that did not apply (the sandbox is then
   * left at `onto` plus the commits that did: the caller resets it), and whether it failed for being already there.
   */
  async rebaseSandbox(
    sandbox: SandboxInfo,
    picks: Array<{ from: SandboxInfo; commit: string }>,
    opts: { onto?: string } = {},
  ): Promise<{ commit: string } | { conflict: string; empty: boolean }> {
    const onto = opts.onto ?? (await this.masterHead());
    await removeUnsafeGitPaths(sandbox.path, sandbox.baseCommit);
    await git(sandbox.path, ["checkout", "-q", "-f", "--detach", onto]);
    await git(sandbox.path, ["clean", "-q", "-ffdx"]);
    sandbox.baseCommit = onto;
    writeFileAtomic(this.guard, path.join(sandbox.path, ".git", SANDBOX_META), JSON.stringify(sandbox));
    for (const { from, commit } of picks) {
      if (from.path !== sandbox.path)
        await git(sandbox.path, ["fetch", "-q", "--no-tags", "--", from.path, commit]);
      const r = await gitRaw(sandbox.path, ["cherry-pick", commit]);
      if (r.exitCode !== 0) {
        // Nothing left to commit: the change is already there (git stops an empty cherry-pick too).
        const empty = (await statusLines(sandbox.path)).length === 0;
        await gitRaw(sandbox.path, ["cherry-pick", "--abort"]);
        return { conflict: commit, empty };
      }
    }
    return { commit: await headCommit(sandbox.path) };
  }

  /**
   * Reset a sandbox's tree to `rev` (default its base) and remove every untracked and ignored file. What git must
   * not see (a nested repository, submodule or driver configuration) is removed first, without following links.
   */
  async cleanSandbox(sandbox: SandboxInfo, rev: string = sandbox.baseCommit): Promise<void> {
    await removeUnsafeGitPaths(sandbox.path, sandbox.baseCommit);
    await git(sandbox.path, ["reset", "-q", "--hard", rev]);
    await git(sandbox.path, ["clean", "-q", "-ffdx"]);
  }

  /**
   * Bring Master's index and work tree back to its HEAD (a promotion's merge killed half-way leaves them at the new
   * commit with the branch before it). Recovery calls it at the start of every run; what differs from HEAD is
   * stashed (`git stash list` in Master shows it), never dropped.
   */
  async repairMaster(): Promise<void> {
    await this.reattachMaster();
    const dirty = await this.masterDirty();
    if (dirty.length === 0) return;
    await git(this.layout.master, ["stash", "push", "-u", "-q", "-m", `odibi-improve recovery ${stamp()}`]);
  }

  /**
   * Master's HEAD back on its branch when a `resync` was killed while replaying (it works on a detached HEAD and
   * moves the branch only at its end, so the branch is intact): a cherry-pick in progress is dropped. Returns
   * whether it had to.
   */
  async reattachMaster(): Promise<boolean> {
    const master = this.layout.master;
    if ((await gitRaw(master, ["symbolic-ref", "-q", "HEAD"])).exitCode === 0) return false;
    await gitRaw(master, ["cherry-pick", "--abort"]);
    await git(master, ["checkout", "-q", "-f", MASTER_BRANCH]);
    return true;
  }

  // ---- Snapshots ----------------------------------------------------------------------------------------

  private snapshotMetaPath(name: string): string {
    return path.join(this.layout.snapshots, `${name}.json`);
  }

  /** Tag `snapshot/<name>` at Master's HEAD, plus `<name>.tar.gz` when compress is on. Applies retention. */
  async snapshotMaster(name?: string): Promise<SnapshotInfo> {
    const snapName = name ?? `snap_${stamp()}`;
    if (!/^[A-Za-z0-9._-]+$/.test(snapName) || snapName.includes(".."))
      throw new UsageError(`invalid snapshot name "${snapName}"`, "Use letters, digits, '.', '_' and '-'.");
    if (existsSync(this.snapshotMetaPath(snapName)))
      throw new UsageError(
        `snapshot ${snapName} already exists`,
        "Choose another name, or list them with `odibi-improve snapshots`.",
      );
    const commit = await this.masterHead();
    const tree = await treeHash(this.layout.master);
    const tag = `snapshot/${snapName}`;
    await git(this.layout.master, ["tag", "-f", tag, commit]);
    let archive: string | undefined;
    if (this.config.snapshots.compress) {
      archive = path.join(this.layout.snapshots, `${snapName}.tar.gz`);
      this.guard.assertWritable(archive);
      const tmp = `${archive}.tmp`;
      await git(this.layout.master, [
        "archive",
        "--format=tar.gz",
        `--prefix=${snapName}/`,
        "-o",
        tmp,
        commit,
      ]);
      renameRetrying(tmp, archive);
    }
    const info: SnapshotInfo = {
      name: snapName,
      commit,
      tree,
      createdAt: new Date().toISOString(),
      tag,
      archive,
    };
    writeFileAtomic(this.guard, this.snapshotMetaPath(snapName), JSON.stringify(info, null, 2));
    await this.applyRetention();
    return info;
  }

  listSnapshots(): SnapshotInfo[] {
    if (!existsSync(this.layout.snapshots)) return [];
    return readdirSync(this.layout.snapshots)
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(path.join(this.layout.snapshots, f), "utf8")) as SnapshotInfo)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
  }

  private async applyRetention(): Promise<void> {
    const all = this.listSnapshots();
    const excess = all.length - this.config.snapshots.max_snapshots;
    for (const s of all.slice(0, Math.max(0, excess))) {
      await gitRaw(this.layout.master, ["tag", "-d", s.tag]);
      if (s.archive && existsSync(s.archive)) rmGuarded(this.guard, s.archive);
      unlinkSync(this.snapshotMetaPath(s.name));
    }
  }

  /**
   * Restore Master exactly to a snapshot. Master's current state is first kept as a snapshot of its own
   * (`before_rollback_<time>`), so a rollback never loses a promotion. The tree hash is verified.
   */
  async rollbackMaster(name: string): Promise<{ snapshot: SnapshotInfo; safety: SnapshotInfo }> {
    // Not under a running campaign's feet: it holds this lock from start to end.
    const lock = WriterLock.acquire(this.guard, this.layout.runLock, `the campaign lock of ${this.root}`);
    try {
      return await this.rollbackUnlocked(name);
    } finally {
      lock.release();
    }
  }

  private async rollbackUnlocked(name: string): Promise<{ snapshot: SnapshotInfo; safety: SnapshotInfo }> {
    const meta = this.snapshotMetaPath(name);
    if (!existsSync(meta))
      throw new NotFoundError(
        `no snapshot named "${name}"`,
        `Known snapshots: ${
          this.listSnapshots()
            .map((s) => s.name)
            .join(", ") || "(none)"
        }. List them with \`odibi-improve snapshots\`.`,
      );
    const snap = JSON.parse(readFileSync(meta, "utf8")) as SnapshotInfo;
    await this.assertMasterClean("roll back");
    const safety = await this.snapshotMaster(`before_rollback_${stamp()}`);
    await git(this.layout.master, ["reset", "-q", "--hard", snap.commit]);
    const tree = await treeHash(this.layout.master);
    const dirty = await this.masterDirty();
    if (tree !== snap.tree || dirty.length > 0)
      throw new EnvironmentStateError(
        `rollback to ${name} did not restore the recorded tree (${tree} ≠ ${snap.tree})`,
      );
    return { snapshot: snap, safety };
  }
}

async function copyWorkingTree(source: string, dest: string, sourceIsRepo: boolean): Promise<void> {
  // Replace Master's tracked files by Sacred's working tree (tracked + untracked, not ignored).
  const tracked = (await git(dest, ["ls-files", "-z"])).split("\0").filter(Boolean);
  for (const f of tracked) rmSync(path.join(dest, f), { force: true });
  const files = sourceIsRepo
    ? (await git(source, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]))
        .split("\0")
        .filter(Boolean)
    : undefined;
  if (files) {
    for (const f of files) {
      const from = path.join(source, f);
      if (!existsSync(from)) continue; // deleted in the working tree
      mkdirSync(path.dirname(path.join(dest, f)), { recursive: true });
      cpSync(from, path.join(dest, f), { verbatimSymlinks: true });
    }
  }
  await git(dest, ["add", "-A"]);
  const staged = await gitRaw(dest, ["diff", "--cached", "--quiet"]);
  if (staged.exitCode !== 0)
    await git(dest, [
      "commit",
      "-q",
      "--no-verify",
      "-m",
      "odibi-improve: Sacred's working tree (uncommitted changes included)",
    ]);
}

async function initFromFolder(source: string, dest: string, sourceIsEmptyRepo: boolean): Promise<void> {
  mkdirSync(dest, { recursive: true });
  cpSync(source, dest, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => path.basename(src) !== ".git" || path.dirname(src) !== source,
  });
  await git(dest, ["init", "-q", "-b", MASTER_BRANCH]);
  await git(dest, ["add", "-A"]);
  await git(dest, [
    "commit",
    "-q",
    "--no-verify",
    "--allow-empty",
    "-m",
    sourceIsEmptyRepo
      ? "odibi-improve: Sacred's working tree (repository had no commits)"
      : "odibi-improve: Sacred as a plain folder",
  ]);
}
