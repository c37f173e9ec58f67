/**
 * A diverging run (learning rate and weight decay far too high): training stops with a clear
 * message, and what it leaves is the last good state: a checkpoint and a best model with only
 * finite values, history up to the same epoch, and a run that can still be resumed or inspected.
 */
import { disposeNet, netValues } from '../src/nets/index.js';
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { engine, runCli, tmpDir } from './helpers.js';
import { crashLines } from './faultHelpers.js';
import { writeSampleDataset } from '../src/data/sample.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { loadModel } from '../src/formats/modelFolder.js';

before(engine);

test('NaN or infinite training state stops the run and keeps the last good checkpoint and model', async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { count: 8, size: 32, gap: 2, seed: 3, valid: 2, test: 1 });
  const out = path.join(dir, 'run');
  const r = await runCli([
    'train',
    data,
    '--out',
    out,
    '--epochs',
    '12',
    '--crop',
    '32',
    '--depth',
    '2',
    '--width',
    '4',
    '--batch',
    '1',
    '--lr',
    '10',
    '--weight-decay',
    '1',
    '--threads',
    '2',
    '--quiet',
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(crashLines(r.stderr), [], r.stderr);
  const last = r.stderr.trimEnd().split('\n').pop() ?? '';
  assert.match(
    last,
    /^gapseg: training diverged (at|in) epoch (\d+).*Try a lower --lr \(now 10; start over with --force\); the checkpoint of epoch \d+ and the best model so far are kept$/,
  );
  const failedEpoch = Number(/epoch (\d+)/.exec(last)![1]);

  const ck = readCheckpoint(path.join(out, 'checkpoint.bin'));
  assert.equal(ck.state.epoch, failedEpoch - 1, 'the checkpoint is that of the last completed epoch');
  for (const [name, v] of ck.values) assert.ok(v.every(Number.isFinite), `checkpoint tensor ${name} holds NaN or infinity`);
  const history = JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8')) as unknown[];
  assert.equal(history.length, ck.state.epoch, 'no history entry for the diverged epoch');
  const { net } = loadModel(path.join(out, 'model'));
  for (const [name, v] of await netValues(net)) assert.ok(v.every(Number.isFinite), `model tensor ${name} holds NaN or infinity`);
  disposeNet(net);
});
