import { DRIVER_ATTRIBUTE, gitSeenName, isGitDirName } from "../../environment/tree-safety.js";
import type { PolicyViolation, RuleInput } from "../types.js";
import { plus, violation } from "../violation.js";

/**
 * The diff's view of what the tree walk (`findUnsafeGitPaths`) rejects before git runs: a `.git` in any case or
 * spelling at any depth, a `.gitmodules`, attribute lines naming a filter, diff or merge driver.
 */
export function unsafeGitPathRule({ files }: RuleInput): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  for (const f of files) {
    if (f.status === "deleted") continue;
    const segments = f.path.split("/");
    const name = gitSeenName(segments.at(-1) ?? "");
    if (segments.some(isGitDirName))
      out.push(violation("unsafe-git-path", f.path, 0, "a nested git repository or gitdir pointer"));
    else if (name === ".gitmodules")
      out.push(violation("unsafe-git-path", f.path, 0, "submodule configuration added or changed"));
    else if (name === ".gitattributes") {
      const drivers = f.added.filter((l) => DRIVER_ATTRIBUTE.test(l.text));
      if (drivers.length > 0)
        out.push(
          violation(
            "unsafe-git-path",
            f.path,
            drivers[0]!.line,
            "git attributes naming a filter, diff or merge driver",
            drivers.map(plus),
          ),
        );
    }
  }
  return out;
}
