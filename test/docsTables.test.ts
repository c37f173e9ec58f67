/** The benchmark tables of README.md and docs/benchmarks.md are the recorded results rendered (bench/tables.ts), not typed by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readResults, renderedFiles, replaceBlock } from '../bench/tables.js';
import { ROOT } from './helpers.js';

test('the benchmark tables in the README and docs/benchmarks.md match docs/results (npm run docs:tables)', () => {
  assert.ok(readResults().length > 0, 'docs/results holds the recorded benchmark results');
  for (const f of renderedFiles())
    assert.equal(fs.readFileSync(f.file, 'utf8'), f.text, `${path.relative(ROOT, f.file)} is stale: run npm run docs:tables`);
});

test('a table block is replaced between its markers, and a missing block is an error', () => {
  assert.equal(
    replaceBlock('a\n<!-- bench:x -->\nold\n<!-- /bench:x -->\nb', 'x', 'new'),
    'a\n<!-- bench:x -->\nnew\n<!-- /bench:x -->\nb',
  );
  assert.throws(() => replaceBlock('nothing here', 'x', 'new'), /no <!-- bench:x -->/);
});
