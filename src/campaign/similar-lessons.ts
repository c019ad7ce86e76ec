import type { Task } from "../core/types.js";
import type { SimilarLesson } from "../memory/index.js";

const MAX_LESSONS = 4;
const MAX_TEXT = 300;

function clip(s: string): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > MAX_TEXT ? `${one.slice(0, MAX_TEXT)}…` : one;
}

/**
 * Lessons of similar past tasks for the model's prompt: memory's BM25 search over the task's title, target, file and
 * detail, without the task's own signature (its failed approaches are already the prompt's "do not repeat" list).
 * One line each: the task, the approach, what it changed, how it ended and why.
 */
export function similarLessons(
  memory: { querySimilar(text: string, k?: number): SimilarLesson[] },
  task: Task,
): string[] {
  const query = [task.title, task.target, task.file ?? "", (task.detail ?? "").slice(0, 2000)].join(" ");
  return memory
    .querySimilar(query, MAX_LESSONS * 3)
    .map((h) => h.lesson)
    .filter((l) => l.task.signature !== task.signature)
    .slice(0, MAX_LESSONS)
    .map((l) => {
      const how = l.approach.summary ? ` (${clip(l.approach.summary)})` : "";
      const files = l.files.length ? ` in ${l.files.slice(0, 3).join(", ")}` : "";
      const why = l.reason ? `: ${clip(l.reason)}` : "";
      const ended =
        l.outcome === "promoted"
          ? "worked and was promoted"
          : `ended ${l.outcome}${l.gate ? ` by ${l.gate}` : ""}`;
      return `"${clip(l.task.title)}": ${l.approach.kind} ${l.approach.name}${how}${files} ${ended}${why}`;
    });
}
