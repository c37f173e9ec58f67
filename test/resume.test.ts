/**
 * Checkpoint and resume: a run paused after one epoch and resumed ends with exactly the
 * weights, optimiser state and history of an uninterrupted run with the same seed.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { engine, tmpDir } from './helpers.js';
import { writeSampleDataset } from '../src/data/sample.js';
import { resolveClasses, runTraining } from '../src/train/run.js';
import { DEFAULT_TRAIN, type TrainConfig } from '../src/train/config.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import type { EpochRecord } from '../src/train/loop.js';

before(engine);

const quietOpts = { resume: false, force: false, log: () => undefined };

async function smallConfig(dataDir: string): Promise<TrainConfig> {
  const { classes, source } = resolveClasses(dataDir, null, null);
  return {
    ...DEFAULT_TRAIN,
    dataset: dataDir,
    classSource: source,
    classes,
    crop: 32,
    batch: 4,
    epochs: 3,
    depth: 2,
    width: 4,
    tile: 64,
    seed: 5,
  };
}

test('a run paused after one epoch and resumed equals an uninterrupted run', async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { count: 14, size: 48, gap: 2, seed: 3, valid: 3, test: 1 });
  const cfg = await smallConfig(data);

  const whole = path.join(dir, 'whole');
  await runTraining(whole, cfg, quietOpts);

  const parts = path.join(dir, 'parts');
  await runTraining(parts, cfg, { ...quietOpts, stopAfterEpochs: 1 });
  assert.equal(readCheckpoint(path.join(parts, 'checkpoint.bin')).state.epoch, 1);
  await runTraining(parts, null, { ...quietOpts, resume: true, stopAfterEpochs: 2 });
  await runTraining(parts, null, { ...quietOpts, resume: true });

  const a = readCheckpoint(path.join(whole, 'checkpoint.bin'));
  const b = readCheckpoint(path.join(parts, 'checkpoint.bin'));
  assert.equal(a.state.epoch, 3);
  assert.equal(b.state.epoch, 3);
  assert.equal(a.state.adamStep, b.state.adamStep);
  assert.deepEqual([...a.values.keys()].sort(), [...b.values.keys()].sort());
  for (const [name, va] of a.values) {
    const vb = b.values.get(name) as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < va.length; i++) maxDiff = Math.max(maxDiff, Math.abs(va[i] - vb[i]));
    assert.ok(maxDiff <= 1e-6, `${name} differs by ${maxDiff}`);
  }
  const ha = JSON.parse(fs.readFileSync(path.join(whole, 'history.json'), 'utf8')) as EpochRecord[];
  const hb = JSON.parse(fs.readFileSync(path.join(parts, 'history.json'), 'utf8')) as EpochRecord[];
  assert.equal(hb.length, 3);
  for (let e = 0; e < 3; e++) {
    assert.ok(Math.abs(ha[e].trainLoss - hb[e].trainLoss) < 1e-6, `epoch ${e + 1} loss ${ha[e].trainLoss} vs ${hb[e].trainLoss}`);
    assert.equal(ha[e].valid?.pixelAccuracy, hb[e].valid?.pixelAccuracy);
  }
});

test('resuming a finished or missing run is handled, and a second start is refused', async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { count: 6, size: 32, gap: 2, seed: 4, valid: 2, test: 0 });
  const cfg = { ...(await smallConfig(data)), epochs: 1 };
  await assert.rejects(runTraining(path.join(dir, 'none'), null, { ...quietOpts, resume: true }), /nothing to resume/);
  const run = path.join(dir, 'run');
  await runTraining(run, cfg, quietOpts);
  await assert.rejects(runTraining(run, cfg, quietOpts), /already holds a run/);
  const again = await runTraining(run, null, { ...quietOpts, resume: true });
  assert.equal(again.history.length, 1, 'a finished run resumes to nothing more');
  assert.ok(fs.existsSync(path.join(run, 'model', 'model.json')));
});
