import { splitCommandLine } from "../../exec/run-process.js";

/**
 * A configured command line with its placeholder (`{file}`, `{config}`) replaced per word, so a path with spaces
 * stays one argument. Without the placeholder the path is appended.
 */
export function expandCommand(
  line: string,
  placeholder: string,
  value: string,
): { file: string; args: string[] } {
  const words = splitCommandLine(line);
  const token = `{${placeholder}}`;
  const used = words.some((w) => w.includes(token));
  const expanded = words.map((w) => w.split(token).join(value));
  if (!used) expanded.push(value);
  const [file, ...args] = expanded;
  if (!file) throw new Error(`empty command: ${line}`);
  return { file, args };
}

/** Cap a log excerpt for a check's detail (the tail is what explains a crash). */
export function tail(text: string, max = 4000): string {
  const t = text.trimEnd();
  return t.length <= max ? t : `…${t.slice(-max)}`;
}
