/**
 * The ```ts snippets of a Markdown file, grouped into the sets of files that compile together.
 *
 * A snippet whose first line is a file name comment (`// app.module.ts`) is that file; the
 * snippets of one document that import each other (`./app.module.js`) compile together. A second
 * snippet with a name already used (another way to write `app.module.ts`) compiles in its own set,
 * in place of the first. A snippet without a name compiles alone. A snippet right after the line
 * `<!-- snippet: fragment -->` is skipped: only for deliberate fragments.
 */
import { readFileSync } from 'node:fs';

export interface Snippet {
  /** The file name it compiles as. */
  readonly file: string;
  /** The line of the document its first code line is on (1-based). */
  readonly line: number;
  readonly code: string;
}

/** A set of snippets that compile together, each under its own file name. */
export type SnippetSet = Snippet[];

export interface DocSnippets {
  readonly sets: SnippetSet[];
  /** Lines of the snippets skipped as fragments. */
  readonly skipped: number[];
}

const NAMED = /^\/\/ ([\w.-]+\.ts)\b/;
export const FRAGMENT_MARK = '<!-- snippet: fragment -->';

export function docSnippets(path: string): DocSnippets {
  const lines = readFileSync(path, 'utf8').split('\n');
  const snippets: Snippet[] = [];
  const skipped: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```/.test(lines[i]!)) continue;
    const isTs = /^```ts\s*$/.test(lines[i]!);
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    if (isTs) {
      const previous = lines
        .slice(0, i)
        .reverse()
        .find((l) => l.trim() !== '');
      const code = lines.slice(start, end).join('\n');
      const name = NAMED.exec(lines[start] ?? '')?.[1];
      if (previous?.trim() === FRAGMENT_MARK) skipped.push(start + 1);
      else snippets.push({ file: name ?? `snippet-line-${start + 1}.ts`, line: start + 1, code });
    }
    i = end;
  }
  const named = snippets.filter((s) => NAMED.test(s.code));
  const primary = new Map<string, Snippet>();
  for (const s of named) if (!primary.has(s.file)) primary.set(s.file, s);
  const sets: SnippetSet[] = [];
  if (primary.size > 0) sets.push([...primary.values()]);
  for (const s of named) {
    if (primary.get(s.file) === s) continue;
    sets.push([...primary.values()].map((p) => (p.file === s.file ? s : p)));
  }
  for (const s of snippets) if (!NAMED.test(s.code)) sets.push([s]);
  return { sets, skipped };
}
