/**
 * The layout of src/ as the architecture: every import of a module points to its own folder or
 * to a folder below it, so the core knows no command line or screen and nothing depends on
 * the CLI. The order is the README's (Layout of the code).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers.js';

/** Folders of src/ from the bottom up; a folder may import only its own and lower ones. */
const LAYERS: string[][] = [['generated', 'util'], ['data', 'engine', 'crf'], ['metrics', 'losses'], ['nets'], ['formats'], ['predict'], ['evaluate', 'draw'], ['train'], ['report'], ['view'], ['api'], ['cli'], ['index.ts']];
const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? sources(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : []));
}

test('every import in src/ runs to the same folder or downwards; nothing outside cli/ imports it', () => {
  const src = path.join(ROOT, 'src');
  const wrong: string[] = [];
  for (const file of sources(src)) {
    const from = path.relative(src, file).split(path.sep)[0];
    assert.ok(rank.has(from), `src/${from} has no place in the layers; add it to this test and the README`);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const to = path.relative(src, path.resolve(path.dirname(file), m[1])).split(path.sep)[0].replace(/\.js$/, '.ts');
      if (to === from) continue;
      if (!rank.has(to) || rank.get(to)! >= rank.get(from)!) wrong.push(`${path.relative(ROOT, file)} imports ${m[1]} (${from} -> ${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});
