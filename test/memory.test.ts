/**
 * Memory bounds of training: the estimate covers the heap a step really uses, and a run that
 * cannot fit the 4 GiB wasm heap is refused up front with the estimate and a suggestion.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { engine, tmpDir } from './helpers.js';
import { createAdamState, disposeAdamState } from '../src/train/adam.js';
import { trainStep } from '../src/train/step.js';
import { trainingLoss } from '../src/losses/trainingLoss.js';
import { lossTargets } from '../src/losses/crossEntropy.js';
import { estimateTrainingBytes, runTraining } from '../src/train/run.js';
import { DEFAULT_TRAIN, netConfigOf } from '../src/train/config.js';
import { createNet, disposeNet } from '../src/nets/index.js';
import { parseClassesFlag } from '../src/data/classes.js';
import { writeSampleDataset } from '../src/data/sample.js';

before(engine);

/** Heap growth over `steps` training steps of the network of `cfg`, from before the net is built. */
async function heapGrowthOfSteps(cfg: Parameters<typeof estimateTrainingBytes>[0], steps: number): Promise<number> {
  const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
  const start = heap();
  const net = createNet(netConfigOf(cfg), 1);
  const adam = createAdamState(net.params);
  const n = cfg.batch * cfg.crop * cfg.crop;
  const batch = {
    n: cfg.batch,
    height: cfg.crop,
    width: cfg.crop,
    images: new Float32Array(n * 3).fill(0.3),
    targets: lossTargets(
      new Uint8Array(n).map((_, i) => i % 2),
      2,
    ),
  };
  for (let i = 0; i < steps; i++)
    await trainStep(net, adam, batch, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, trainingLoss('none'));
  const used = heap() - start;
  disposeNet(net);
  disposeAdamState(adam);
  return used;
}

test('the training memory estimate covers the heap a step uses', async () => {
  const cfg = { crop: 128, batch: 4, depth: 3, width: 16, classes: parseClassesFlag('a,b') };
  const used = await heapGrowthOfSteps(cfg, 3);
  const estimate = estimateTrainingBytes(cfg);
  assert.ok(used > 0 && used <= estimate, `heap grew by ${used} bytes, estimate ${estimate}`);
});

test('the training memory estimate covers the heap a MobileNetV2 U-Net step uses', async () => {
  const cfg = { crop: 128, batch: 2, depth: 4, width: 16, classes: parseClassesFlag('a,b'), encoder: 'mobilenet_v2' as const };
  const used = await heapGrowthOfSteps(cfg, 2);
  const estimate = estimateTrainingBytes(cfg);
  assert.ok(used > 0 && used <= estimate, `heap grew by ${used} bytes, estimate ${estimate}`);
});

test('a run that cannot fit the wasm heap is refused before anything is written', async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { count: 4, size: 32, gap: 2, seed: 1, valid: 1, test: 0 });
  const classes = parseClassesFlag('0=background,255=smoke', ['128']);
  const run = path.join(dir, 'run');
  await assert.rejects(
    runTraining(
      run,
      { ...DEFAULT_TRAIN, dataset: data, classSource: 'test', classes, crop: 1024, batch: 16 },
      { resume: false, force: false, log: () => undefined },
    ),
    /about \d+\.\d GiB of memory, more than the 4 GiB wasm heap can hold; use --batch \d+/,
  );
  assert.equal(fs.existsSync(run), false);
});
