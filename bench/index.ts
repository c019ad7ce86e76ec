/**
 * `npm run bench -- <name>`: runs bench/<name>.ts (its exported `run()`); with no name, every bench in turn.
 * Each bench prints ratios against a baseline measured in the same run: the machine is noisy.
 */
import { readdirSync } from "node:fs";
import path from "node:path";

const here = import.meta.dirname;
const all = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "index.ts")
  .map((f) => path.basename(f, ".ts"))
  .sort();
const wanted = process.argv.slice(2);
for (const name of wanted)
  if (!all.includes(name)) throw new Error(`no bench "${name}"; known: ${all.join(", ")}`);
for (const name of wanted.length ? wanted : all) {
  const mod = (await import(`./${name}.ts`)) as { run: () => Promise<void> };
  await mod.run();
}
