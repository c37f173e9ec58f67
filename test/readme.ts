/** What the tests read out of README.md: its `npx gapseg` commands and its TypeScript example. */

import { commandNames } from '../src/cli/main.js';

/**
 * Every `npx gapseg ...` command the README shows, in its order, once each: lines of its code
 * blocks (trailing comments dropped) and inline code spans. `<command>` stands for each command.
 */
export function readmeCommands(readme: string): string[] {
  const found: string[] = [];
  let inBlock = false;
  for (const line of readme.split('\n')) {
    // Fences may be indented (a code block inside a list item).
    if (line.trimStart().startsWith('```')) {
      inBlock = !inBlock;
      continue;
    }
    if (inBlock) {
      const m = /^\s*(npx gapseg\s.*?)(\s+#.*)?$/.exec(line);
      if (m) found.push(m[1].trim());
    } else {
      for (const m of line.matchAll(/`(npx gapseg [^`]+)`/g)) found.push(m[1].trim());
    }
  }
  const out: string[] = [];
  for (const c of found) {
    const expanded = c.includes('<command>') ? commandNames().map((n) => c.replace('<command>', n)) : [c];
    for (const e of expanded) if (!out.includes(e)) out.push(e);
  }
  return out;
}

/** Split a command line as a POSIX shell does for plain words and double-quoted strings. */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quoted = false;
  let any = false;
  for (const ch of line) {
    if (ch === '"') {
      quoted = !quoted;
      any = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (any) words.push(cur);
      cur = '';
      any = false;
    } else {
      cur += ch;
      any = true;
    }
  }
  if (quoted) throw new Error(`unbalanced quote in: ${line}`);
  if (any) words.push(cur);
  return words;
}

/** The README's one TypeScript example (its ```ts block). */
export function readmeTypeScript(readme: string): string {
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  if (blocks.length !== 1) throw new Error(`the README should hold one TypeScript example, it holds ${blocks.length}`);
  return blocks[0];
}
