/**
 * End to end through the command line: generate a small sample, train, predict, evaluate.
 * The trained model must reach a stated accuracy on held-out images, and no output may ever
 * hold the void label value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { runCli, tmpDir } from './helpers.js';
import { writeSampleDataset } from '../src/data/sample.js';
import { readSplitList } from '../src/data/dataset.js';

async function labelValues(file: string): Promise<Set<number>> {
  const { data } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return new Set(data);
}

test('train -> predict -> eval on generated data reaches 93% on labelled pixels, never predicts void', async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  // 40 training, 8 validation, 8 test images of 64x64; void (128) bands 2 px each side.
  await writeSampleDataset(data, { count: 56, size: 64, gap: 2, seed: 11, valid: 8, test: 8 });
  const run = path.join(dir, 'run');
  const train = await runCli([
    'train',
    data,
    '--out',
    run,
    '--epochs',
    '10',
    '--crop',
    '64',
    '--depth',
    '3',
    '--width',
    '8',
    '--batch',
    '8',
    '--lr',
    '0.005',
    '--quiet',
  ]);
  assert.equal(train.code, 0, train.stderr);
  for (const f of [
    'config.json',
    'gapseg.json',
    'history.json',
    'checkpoint.bin',
    'model/model.json',
    'model/weights.bin',
    'model/gapseg.json',
  ]) {
    assert.ok(fs.existsSync(path.join(run, f)), `${f} missing`);
  }
  const history = JSON.parse(fs.readFileSync(path.join(run, 'history.json'), 'utf8')) as { trainLoss: number }[];
  assert.equal(history.length, 10);
  assert.ok(history[9].trainLoss < history[0].trainLoss, 'the loss falls');

  const test = readSplitList(path.join(data, 'test.txt'));
  const images = test.map((n) => path.join(data, 'images', `${n}.png`));
  const out = path.join(dir, 'pred');
  const pred = await runCli(['predict', run, ...images, '--out', out, '--quiet']);
  assert.equal(pred.code, 0, pred.stderr);
  for (const n of test) {
    for (const sub of ['labels', 'overlays', 'probs']) assert.ok(fs.existsSync(path.join(out, sub, `${n}.png`)), `${sub}/${n}.png missing`);
    const values = await labelValues(path.join(out, 'labels', `${n}.png`));
    for (const v of values) assert.ok(v === 0 || v === 255, `label value ${v} predicted in ${n} (void is 128)`);
  }

  const json = path.join(dir, 'metrics.json');
  const ev = await runCli(['eval', run, data, '--json', json, '--quiet']);
  assert.equal(ev.code, 0, ev.stderr);
  const metrics = JSON.parse(fs.readFileSync(json, 'utf8')) as {
    split: string;
    report: { pixelAccuracy: number; meanIoU: number; gapAccuracy: number; images: number };
  };
  assert.equal(metrics.split, 'test');
  assert.equal(metrics.report.images, 8);
  assert.ok(metrics.report.pixelAccuracy >= 0.93, `pixel accuracy ${metrics.report.pixelAccuracy}`);
  assert.ok(metrics.report.meanIoU >= 0.8, `mean IoU ${metrics.report.meanIoU}`);
  // Half of a symmetric gap is background: a model blind to the gap scores about 0.5.
  assert.ok(metrics.report.gapAccuracy > 0.55, `gap accuracy ${metrics.report.gapAccuracy}`);
  assert.match(ev.stdout, /pixel accuracy \(labelled pixels\): \d+\.\d+%/);
  // An earlier metrics file is replaced; any other file is not (here the model's own model.json).
  const again = await runCli(['eval', run, data, '--json', json, '--quiet']);
  assert.equal(again.code, 0, again.stderr);
  const modelJson = path.join(run, 'model', 'model.json');
  const kept = fs.readFileSync(modelJson);
  const slip = await runCli(['eval', run, data, '--json', modelJson, '--quiet']);
  assert.equal(slip.code, 2, slip.stderr);
  assert.match(slip.stderr, /model\.json: exists and is not a metrics file of gapseg eval; --json will not replace it/);
  assert.ok(fs.readFileSync(modelJson).equals(kept), 'the model is untouched');

  // Forbidding smoke: the model may only answer background.
  const forb = path.join(dir, 'forbid');
  const pf = await runCli(['predict', run, images[0], '--out', forb, '--forbid', 'smoke', '--quiet']);
  assert.equal(pf.code, 0, pf.stderr);
  assert.deepEqual([...(await labelValues(path.join(forb, 'labels', `${test[0]}.png`)))], [0]);
});
