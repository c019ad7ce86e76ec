import path from "node:path";
import { Command } from "@commander-js/extra-typings";
import { assertToolsStart } from "../../campaign/tool-check.js";
import { ExitCode } from "../../core/errors.js";
import type { Check, GateRun } from "../../core/types.js";
import { mkdirGuarded } from "../../environment/fs-safe.js";
import { git } from "../../environment/git.js";
import { installedDependencies } from "../../environment/staged-install.js";
import { describeIsolation, resolveIsolation } from "../../exec/jail.js";
import { GateCache } from "../../gates/cache.js";
import { gateIsolation, makeGateContext } from "../../gates/context.js";
import { checkGates } from "../../gates/pipeline.js";
import { renderGateTable } from "../../gates/render.js";
import {
  applyTestPlan,
  planParallel,
  planSelection,
  serialTestsRun,
  type TestPlan,
} from "../../gates/test-plan.js";
import { decideVerdict, summarize } from "../../gates/verdict.js";
import { checkPolicy } from "../../policy/check-policy.js";
import { profileOf } from "../../profiles/index.js";
import { defaultVenvDir } from "../../pyenv/python-env.js";
import type { CommandContext } from "../context.js";
import { repositoryDependencies, withEnvironment } from "../context.js";

/**
 * `odibi-improve gates [--master | --sandbox <id>]`: run the gates once and print the verdict table.
 * On Master: its checks (the baseline), run in a throw-away clone of its HEAD. On a sandbox: Master's baseline (cached when unchanged), then the
 * candidate through the cascade (policy on its diff, tests touching its changes first), and the verdict. The commands
 * run in the same jail as a campaign's; a sandbox may hold a model's code, so `isolation: auto` without a working
 * jail refuses to check one, as an LLM campaign would.
 * Exit 0: Master green / sandbox promotable; 1: failing checks / not promotable; 2: bad input; 4: the tool failed.
 * With --json: a `gate_run` line per gate run, then the result.
 */
export function gatesCommand(ctx: CommandContext) {
  return new Command("gates")
    .description("run the gates once on Master or a sandbox and print the verdict table")
    .option("--master", "check Master (the default)")
    .option("--sandbox <id>", "check a sandbox against Master's baseline")
    .option("--no-cache", "ignore cached results (they are still refreshed)")
    .action(async (opts) => {
      const out = ctx.output();
      if (opts.master && opts.sandbox)
        throw ctx.usage("--master and --sandbox are exclusive", "Pass one of them.");
      await withEnvironment(ctx.root(), out, async (env) => {
        await repositoryDependencies(env, out);
        const isolation = await resolveIsolation(env.config.isolation, { llm: opts.sandbox !== undefined });
        if (isolation.warning) out.warn(isolation.warning);
        else out.line(describeIsolation(isolation));
        let target = "master";
        const progress = (run: GateRun) => {
          out.line(
            `  ${run.gate}${run.scope === "targeted" ? " (targeted)" : ""}: ${run.checks.length} check(s)${run.cached ? ", cached" : ""}`,
          );
          out.event({
            type: "gate_run",
            target,
            gate: run.gate,
            scope: run.scope ?? "full",
            checks: run.checks.length,
            failed: run.checks.filter((c) => c.status === "fail").length,
            cached: Boolean(run.cached),
          });
        };
        const cache =
          env.config.gates.cache && opts.cache ? new GateCache(env.layout.gateCache, env.guard) : undefined;
        const contextFor = (workdir: string, name: string) => {
          const outputDir = path.join(env.layout.state, "gate-output", name);
          mkdirGuarded(env.guard, outputDir); // (made before the jail, which mounts only what exists)
          return makeGateContext({
            workdir,
            config: env.config,
            profile: profileOf(env.config.profile),
            goldenDir: env.layout.golden,
            outputDir,
            isolation: gateIsolation(env, isolation.mode),
            dependencies: installedDependencies(env.layout),
            pythonPackages: env.layout.pythonPackages,
            log: ctx.json() ? undefined : (l) => out.line(`    ${l}`),
          });
        };

        const missing = profileOf(env.config.profile).missingDependencies?.(env.layout.master);
        const noteOf = (c: Check) => {
          const needs = missing?.(c);
          return needs
            ? `needs ${needs} where the gates run: not a code problem (campaigns leave it)`
            : undefined;
        };
        // Master's checks run in a throw-away clone of its HEAD, as a campaign's baseline does: Master's own folder
        // is never written (no caches, no bytecode), and the result is keyed, like the campaign's, by HEAD's tree.
        const head = await env.masterHead();
        out.line(`Master (${env.layout.master} @ ${head.slice(0, 10)}):`);
        const dirty = await env.masterDirty();
        if (dirty.length > 0)
          out.warn(
            `Master has ${dirty.length} uncommitted change(s); they are not checked (campaigns judge HEAD): ${dirty.slice(0, 3).join("; ")}`,
          );
        const clone = await env.createSandbox(`gates-master-${process.pid}`);
        let master: Awaited<ReturnType<typeof checkGates>>;
        let plan: TestPlan | undefined;
        try {
          const treeHash = (await git(clone.path, ["rev-parse", `${clone.baseCommit}^{tree}`])).trim();
          const ctxMaster = contextFor(clone.path, "master");
          // A tool that cannot start is the tool's failure (exit 4, MissingTool), not a failing check (1).
          await assertToolsStart({
            commands: ctxMaster.commands,
            env: ctxMaster.env,
            ...(ctxMaster.profile.usesVenv ? { venv: defaultVenvDir() } : {}),
            neutralDir: ctxMaster.outputDir,
          });
          // xdist or serial (known for this suite, else checked against the serial run just made), and for a
          // sandbox's targeted step Master's coverage map.
          const store = { dir: env.layout.testPlans, guard: env.guard };
          plan = await planParallel(ctxMaster, store, { knownOnly: true });
          applyTestPlan(ctxMaster, plan);
          master = await checkGates(ctxMaster, { cache, treeHash, onRun: progress });
          const serial = plan ? undefined : serialTestsRun(master);
          if (serial) plan = await planParallel(ctxMaster, store, { serial });
          if (plan && opts.sandbox) {
            await env.cleanSandbox(clone);
            plan.map = await planSelection(ctxMaster, { ...store, treeHash });
          }
        } finally {
          await env.destroySandbox(clone);
        }
        if (!opts.sandbox) {
          const failing = master.runs.some((r) => r.checks.some((c) => c.status === "fail"));
          out.result(
            renderGateTable(master, undefined, { noteOf }),
            { target: "master", result: master, summary: summarize(master) },
            failing ? ExitCode.checksFailed : ExitCode.ok,
          );
          return;
        }
        const sandbox = env.getSandbox(opts.sandbox);
        const [changedFiles, diff] = [await env.sandboxChanges(sandbox), await env.sandboxDiff(sandbox)];
        out.line(`Sandbox ${sandbox.id} (${changedFiles.length} changed file(s)):`);
        target = "sandbox";
        const candidate = await checkGates(
          applyTestPlan(contextFor(sandbox.path, `sandbox-${sandbox.id}`), plan),
          {
            cache,
            baseline: master,
            failFast: true,
            changedFiles,
            diff,
            policy: (d, config) => checkPolicy(d, config),
            onRun: progress,
          },
        );
        const verdict = decideVerdict(master, candidate, {
          gates: profileOf(env.config.profile).gates,
          mode: env.config.gates.mode,
        });
        out.result(
          renderGateTable(candidate, verdict, { noteOf }),
          {
            target: "sandbox",
            sandbox: sandbox.id,
            changedFiles,
            baseline: master,
            result: candidate,
            summary: summarize(candidate),
            verdict,
          },
          verdict.promotable ? ExitCode.ok : ExitCode.checksFailed,
        );
      });
    });
}
