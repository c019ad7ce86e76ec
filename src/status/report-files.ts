import path from "node:path";
import MarkdownIt from "markdown-it";
import { OdibiImproveError } from "../core/errors.js";
import { writeFileAtomic } from "../environment/fs-safe.js";
import { layoutOf } from "../environment/layout.js";
import type { SacredGuard } from "../environment/sacred.js";

// Raw HTML in the markdown (from a model's summary, an error message) stays text: html off.
const markdown = new MarkdownIt({ html: false, linkify: false });

/** A report as a standalone HTML page; links to other reports (`x.md`) point at their HTML twins. */
export function reportHtml(title: string, text: string): string {
  const body = markdown.render(text).replace(/href="([^"/:]+)\.md"/g, 'href="$1.html"');
  const escapedTitle = markdown.utils.escapeHtml(title);
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapedTitle}</title>`,
    "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}",
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;vertical-align:top}",
    "pre{background:#f6f6f6;padding:.5rem;overflow:auto}</style>",
    "</head><body>",
    body,
    "</body></html>",
    "",
  ].join("\n");
}

/**
 * Markdown for a terminal: outside code fences, backslash escapes are undone and links show their target, so
 * `MAX\_CYCLES\_REACHED` reads `MAX_CYCLES_REACHED`. Code fences are printed as they are.
 */
export function markdownForTerminal(text: string): string {
  let fence: string | undefined;
  return text
    .split("\n")
    .map((line) => {
      const f = /^(`{3,})/.exec(line)?.[1];
      if (f && (fence === undefined || (f.length >= fence.length && line.trim() === f))) {
        fence = fence === undefined ? f : undefined;
        return line;
      }
      if (fence !== undefined) return line;
      return line
        .replace(
          /\[((?:\\.|[^\]\\])*)\]\(([^)\s]+)\)/g,
          (_, t: string, href: string) => `${t} (${decodeURI(href)})`,
        )
        .replace(/\\([!-/:-@[-`{-~])/g, "$1");
    })
    .join("\n");
}

/**
 * Writes a rendered report to `<root>/reports/<name>` atomically, through the Sacred guard, and its HTML twin
 * beside it (`<name without .md>.html`). Returns the markdown file's path.
 */
export function writeReport(guard: SacredGuard, root: string, name: string, text: string): string {
  if (name !== path.basename(name) || !name.endsWith(".md")) {
    throw new OdibiImproveError(`report name must be a plain file name ending in .md, got "${name}"`);
  }
  const file = path.join(layoutOf(root).reports, name);
  writeFileAtomic(guard, file, text);
  const title = /^#\s+(.*)$/m.exec(text)?.[1] ?? name;
  writeFileAtomic(guard, file.replace(/\.md$/, ".html"), reportHtml(markdownForTerminal(title), text));
  return file;
}
