/**
 * The layout of src/ as the architecture: every import of a module points to its own folder or
 * to a folder below it, so the core knows no command line or screen and nothing depends on
 * the CLI; and no module reaches itself through its imports, inside a folder or across. The
 * order is docs/architecture.md's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers.js';

/** Folders of src/ from the bottom up; a folder may import only its own and lower ones. */
const LAYERS: string[][] = [
  ['generated', 'util'],
  ['data', 'engine', 'crf'],
  ['metrics', 'losses'],
  ['nets'],
  ['formats', 'options'],
  ['predict'],
  ['evaluate', 'draw'],
  ['train'],
  ['report', 'live'],
  ['view'],
  ['api'],
  ['cli'],
  ['index.ts'],
];
const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

function sources(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? sources(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : []));
}

test('every import in src/ runs to the same folder or downwards; nothing outside cli/ imports it', () => {
  const src = path.join(ROOT, 'src');
  const wrong: string[] = [];
  for (const file of sources(src)) {
    const from = path.relative(src, file).split(path.sep)[0];
    assert.ok(rank.has(from), `src/${from} has no place in the layers; add it to this test and the README`);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const to = path
        .relative(src, path.resolve(path.dirname(file), m[1]))
        .split(path.sep)[0]
        .replace(/\.js$/, '.ts');
      if (to === from) continue;
      if (!rank.has(to) || rank.get(to)! >= rank.get(from)!) wrong.push(`${path.relative(ROOT, file)} imports ${m[1]} (${from} -> ${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});

/** The relative imports of every module of src/, as paths relative to src/. */
function importGraph(): Map<string, string[]> {
  const src = path.join(ROOT, 'src');
  const graph = new Map<string, string[]>();
  for (const file of sources(src)) {
    const from = path.relative(src, file);
    const to = [...fs.readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) =>
      path.relative(src, path.resolve(path.dirname(file), m[1])).replace(/\.js$/, '.ts'),
    );
    graph.set(from, to);
  }
  return graph;
}

/** Every cycle of the graph, each once, as the modules around it (Tarjan's strongly connected components). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

test('no module of src/ reaches itself through its imports, inside a folder or across folders', () => {
  assert.deepEqual(cycles(importGraph()), []);
});

test('the cycle finder finds a cycle inside a folder and one across folders', () => {
  const graph = new Map([
    ['a/x.ts', ['a/y.ts']],
    ['a/y.ts', ['a/z.ts']],
    ['a/z.ts', ['a/x.ts', 'b/u.ts']],
    ['b/u.ts', ['c/v.ts']],
    ['c/v.ts', ['b/u.ts']],
    ['d/w.ts', ['a/x.ts']],
  ]);
  assert.deepEqual(cycles(graph), [
    ['b/u.ts', 'c/v.ts'],
    ['a/x.ts', 'a/y.ts', 'a/z.ts'],
  ]);
});
