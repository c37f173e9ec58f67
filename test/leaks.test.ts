/** No tensor leaks: training steps (with and without the gap output), validation and prediction (refined too) leave the tensor count unchanged. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { engine } from './helpers.js';
import { createUNet, disposeUNet, DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { createAdamState, disposeAdamState } from '../src/train/adam.js';
import { trainStep } from '../src/train/step.js';
import { trainingLoss } from '../src/losses/trainingLoss.js';
import { DEFAULT_DENSE_CRF } from '../src/crf/denseCrf.js';
import { lossTargets } from '../src/losses/crossEntropy.js';
import { validate } from '../src/train/loop.js';
import { netModel, predictImage } from '../src/predict/pipeline.js';
import { recipePlan } from '../src/predict/plan.js';
import { tfjsNet } from '../src/predict/tfjsNet.js';
import { generateImage } from '../src/data/sample.js';
import { makeRng } from '../src/util/random.js';
import type { Sample } from '../src/data/load.js';

before(engine);

test('training steps, validation and prediction do not leak tensors', async () => {
  const net = createUNet({ ...DEFAULT_UNET, numClasses: 2, depth: 2, baseWidth: 4 }, 1);
  const adam = createAdamState(net.params);
  const rng = makeRng(9);
  const size = 32;
  const gen = generateImage(rng, size, 2);
  const images = new Float32Array(2 * size * size * 3).map((_, i) => gen.rgb[i % gen.rgb.length] / 255);
  const labels = new Uint8Array(2 * size * size).map((_, i) => gen.labels[i % gen.labels.length]);
  const batch = { n: 2, height: size, width: size, images, targets: lossTargets(labels, 2) };
  const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4 };
  const sample: Sample = {
    name: 's',
    width: size,
    height: size,
    image: gen.rgb,
    labels: gen.labels,
    truth: gen.truth,
    originalWidth: size,
    originalHeight: size,
  };
  const recipe = { scale: 1, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], tile: 24 };

  // Warm up once: the first calls create lasting state (e.g. Adam moments already exist).
  await trainStep(net, adam, batch, hyper, trainingLoss('none'));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) await trainStep(net, adam, batch, hyper, trainingLoss('none'));
  assert.equal(tf.memory().numTensors, before, 'training steps leak');
  await validate(net, [sample, sample], { mean: recipe.mean, std: recipe.std, tile: recipe.tile });
  assert.equal(tf.memory().numTensors, before, 'validation leaks');
  const img = { width: 50, height: 37, data: new Uint8Array(50 * 37 * 3).fill(90) };
  for (let i = 0; i < 3; i++) {
    // tile 24 < 50: the tiled path runs too
    await predictImage(img, netModel(tfjsNet(net), recipePlan(recipe, 4), 2), [0, 1]);
  }
  assert.equal(tf.memory().numTensors, before, 'prediction leaks');
  const owned = 3 * Object.keys(net.params).length + Object.keys(net.stats).length; // params, Adam m and v, BN stats
  disposeAdamState(adam);
  disposeUNet(net);
  assert.equal(tf.memory().numTensors, before - owned, 'disposing the net and optimiser releases them');
});

test('training steps with the gap output and refined prediction do not leak tensors', async () => {
  const net = createUNet({ ...DEFAULT_UNET, numClasses: 2, depth: 2, baseWidth: 4, gapOutput: true }, 1);
  const adam = createAdamState(net.params);
  const size = 32;
  const gen = generateImage(makeRng(4), size, 2);
  const images = new Float32Array(size * size * 3).map((_, i) => gen.rgb[i] / 255);
  const batch = { n: 1, height: size, width: size, images, targets: lossTargets(gen.labels, 2) };
  const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4 };
  const loss = trainingLoss('softmax');
  await trainStep(net, adam, batch, hyper, loss);
  const steps = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) assert.ok(Number.isFinite(await trainStep(net, adam, batch, hyper, loss)));
  assert.equal(tf.memory().numTensors, steps, 'training steps with the gap output leak');
  const before = tf.memory().numTensors;
  const recipe = { scale: 1, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], tile: 24 };
  await predictImage(
    { width: size, height: size, data: gen.rgb },
    netModel(tfjsNet(net), recipePlan(recipe, 4), 2),
    [0, 1],
    DEFAULT_DENSE_CRF,
  );
  assert.equal(tf.memory().numTensors, before, 'refined prediction leaks');
  disposeAdamState(adam);
  disposeUNet(net);
});
