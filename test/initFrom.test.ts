/**
 * Refining a model with more labels (what the labelling viewer's training does): a run that
 * starts from another run's weights and normalisation (--init-from), on the images that have
 * labels so far (--skip-unlabelled); and the one-line refusals around it.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeSampleDataset } from '../src/data/sample.js';
import { train } from '../src/index.js';
import { readModelMeta, readModelValues } from '../src/formats/modelFolder.js';
import { GapsegError } from '../src/util/errors.js';
import { engine, tmpDir } from './helpers.js';

before(engine);

const SMALL = { crop: 32, batch: 2, depth: 2, width: 4, seed: 1, tile: 64, report: false } as const;

test('a run refines another: it starts from its weights, normalisation and recipe, on the labelled images only, saying how many were left out', async () => {
  const dir = tmpDir('gapseg-refine-');
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { count: 6, size: 32, gap: 2, seed: 4, valid: 0, test: 0 });
  const first = await train(data, { ...SMALL, out: path.join(dir, 'a'), epochs: 1, lr: 5e-3 });
  for (const n of fs.readdirSync(path.join(data, 'labels')).sort().slice(0, 2)) fs.rmSync(path.join(data, 'labels', n));
  for (const f of ['train.txt', 'valid.txt', 'test.txt']) fs.rmSync(path.join(data, f), { force: true });
  await assert.rejects(
    train(data, { ...SMALL, out: path.join(dir, 'b'), epochs: 1 }),
    /no label for 2 image\(s\)/,
    'without --skip-unlabelled the set is refused, as before',
  );
  const lines: string[] = [];
  const { depth: _d, width: _w, crop: _c, batch: _b, ...rest } = SMALL;
  const refined = await train(data, {
    ...rest,
    out: path.join(dir, 'b'),
    epochs: 1,
    lr: 1e-8,
    initFrom: first.dir,
    skipUnlabelled: true,
    log: (l) => lines.push(l),
  });
  const cfg = JSON.parse(fs.readFileSync(path.join(refined.dir, 'config.json'), 'utf8')) as { crop: number; batch: number; lr: number };
  assert.deepEqual([cfg.crop, cfg.batch, cfg.lr], [32, 2, 1e-8], "crop and batch continue the first run's recipe; a given rate wins");
  assert.ok(
    lines.some((l) => /2 image\(s\) have no label file yet and are left out/.test(l)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => l.startsWith('starting from the weights of')),
    lines.join('\n'),
  );
  const a = readModelMeta(first.modelDir);
  const b = readModelMeta(refined.modelDir);
  assert.deepEqual(b.net, a.net, 'the refined run trains the same network');
  assert.deepEqual(b.input.mean, a.input.mean, 'and keeps its normalisation');
  const va = readModelValues(first.modelDir, a);
  const vb = readModelValues(refined.modelDir, b);
  let diff = 0;
  for (const [name, x] of va) {
    if (name.includes('moving_')) continue;
    const y = vb.get(name)!;
    for (let i = 0; i < x.length; i++) diff = Math.max(diff, Math.abs(x[i] - y[i]));
  }
  assert.ok(diff < 1e-5, `at a learning rate of 1e-8 the weights stay those of the first run (max change ${diff})`);
});

test('refining takes network options that agree with the model and refuses others, other classes, and a set with no label at all, in one line', async () => {
  const dir = tmpDir('gapseg-refine-bad-');
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { count: 4, size: 32, gap: 2, seed: 5, valid: 0, test: 0 });
  const first = await train(data, { ...SMALL, out: path.join(dir, 'a'), epochs: 1 });
  const oneLine = (re: RegExp) => (e: unknown) => e instanceof GapsegError && !e.message.includes('\n') && re.test(e.message);
  await assert.rejects(
    train(data, { ...SMALL, depth: 3, out: path.join(dir, 'b'), initFrom: first.dir }),
    oneLine(/--init-from .* trains its own network \(depth 2\); --depth 3 differs/),
  );
  await train(data, { ...SMALL, out: path.join(dir, 'b2'), epochs: 1, initFrom: first.dir });
  const { depth: _d, width: _w, ...rest } = SMALL;
  await assert.rejects(
    train(data, { ...rest, out: path.join(dir, 'c'), initFrom: first.dir, classes: '0=sky,255=cloud', void: [128] }),
    oneLine(/its classes \(0=background, 255=smoke\) differ from the data set's \(0=sky, 255=cloud\)/),
  );
  fs.rmSync(path.join(data, 'labels'), { recursive: true });
  await assert.rejects(
    train(data, { ...rest, out: path.join(dir, 'd'), initFrom: first.dir, skipUnlabelled: true }),
    oneLine(/no image has a label file yet/),
  );
});
