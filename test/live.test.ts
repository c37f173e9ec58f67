/**
 * Live training (src/live): where its crops fall and how they weigh the classes, and a live
 * model that learns an image's two regions from two strokes, on a MobileNetV2 of seeded random
 * weights (the real ImageNet file is not needed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { CROP_ALIGN, classCountsOf, cropLabels, cropSide, sampleCrops, type LabelledImage } from '../src/live/crops.js';
import { createLiveModel, disposeLiveModel, predictLive, setImage, setLabels, trainFor } from '../src/live/liveModel.js';
import { mobileNetV2Weights } from '../src/formats/tflite/mobilenetV2.js';
import { parseTflite } from '../src/formats/tflite/reader.js';
import { VOID_INDEX } from '../src/data/labelIndices.js';
import { makeRng } from '../src/util/random.js';
import { engine } from './helpers.js';
import { syntheticMobileNetV2 } from './mobilenetFixture.js';

function image(width: number, height: number, paint: (x: number, y: number) => number): LabelledImage {
  const labels = new Uint8Array(width * height).fill(VOID_INDEX);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) labels[y * width + x] = paint(x, y);
  return { width, height, labels, counts: classCountsOf(labels, 3) };
}

test('crops: aligned to the feature stride, inside the image, holding a labelled pixel of each class about equally often', () => {
  // One pixel of class 2 against thousands of class 0: the crops still find it half of the time.
  const big = image(256, 192, (x, y) => (y === 100 && x < 200 ? 0 : x === 150 && y === 40 ? 2 : VOID_INDEX));
  const side = cropSide([big], 64);
  assert.equal(side, 64);
  const crops = sampleCrops([big], 3, 400, side, makeRng(1));
  let withRare = 0;
  for (const c of crops) {
    assert.equal(c.x % CROP_ALIGN, 0);
    assert.equal(c.y % CROP_ALIGN, 0);
    assert.ok(c.x >= 0 && c.y >= 0 && c.x + side <= big.width && c.y + side <= big.height, `crop at ${c.x},${c.y} leaves the image`);
    const { labels } = cropLabels([big], [c], side, 3);
    assert.ok(
      labels.some((v) => v !== VOID_INDEX),
      'a crop holds a labelled pixel',
    );
    if (labels.includes(2)) withRare++;
  }
  assert.ok(withRare > 150 && withRare < 250, `${withRare} of 400 crops hold the single pixel of the rare class`);
  assert.deepEqual(sampleCrops([image(64, 64, () => VOID_INDEX)], 3, 4, 64, makeRng(1)), []);
});

test('crops: class weights give each class in the batch the same total weight, at most 10 per pixel', () => {
  const im = image(64, 64, (x, y) => (y < 32 ? 0 : x < 16 && y < 40 ? 1 : x === 63 && y === 63 ? 2 : VOID_INDEX));
  const { labels, weights } = cropLabels([im], [{ image: 0, x: 0, y: 0 }], 64, 3);
  const counts = classCountsOf(labels, 3);
  assert.deepEqual(counts, [2048, 128, 1]);
  assert.ok(Math.abs(counts[0] * weights[0] - counts[1] * weights[1]) < 1e-6);
  assert.equal(weights[2], 10);
  assert.equal(cropSide([im, image(32, 96, () => 0)], 64), 32);
});

test('a live model learns two regions of an image from two strokes, and predicts them at the image size', async () => {
  await engine();
  const { encoder, input } = mobileNetV2Weights(parseTflite(syntheticMobileNetV2().bytes, 'synthetic.tflite'));
  const m = createLiveModel({
    kind: 'encoder',
    numClasses: 2,
    encoder,
    mean: [input.mean, input.mean, input.mean],
    std: [input.std, input.std, input.std],
    seed: 2,
  });
  try {
    // 100 x 70: not a multiple of the stride, so padding and cropping back are exercised.
    const [w, h] = [100, 70];
    const rgb = new Uint8Array(w * h * 3);
    const truth = new Uint8Array(w * h);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const c = x + 0.3 * y < 60 ? 1 : 0;
        truth[y * w + x] = c;
        const base = c ? [200, 60, 40] : [40, 80, 200];
        // Smooth shading, no pixel noise: a few strokes cannot teach a decoder to see through noise.
        for (let j = 0; j < 3; j++) rgb[(y * w + x) * 3 + j] = base[j] + Math.round(y / 3);
      }
    setImage(m, 'a', rgb, w, h);
    const labels = new Uint8Array(w * h).fill(VOID_INDEX);
    for (let y = 20; y < 50; y++)
      for (let d = 0; d < 4; d++) {
        labels[y * w + 12 + d] = 1;
        labels[y * w + 88 + d] = 0;
      }
    setLabels(m, 'a', labels);
    const r = await trainFor(m, 0);
    assert.equal(r.steps, 1);
    assert.ok(r.loss !== null && Number.isFinite(r.loss));
    // The first step computed the image's features, which stay; later steps add nothing.
    const before = tf.memory().numTensors;
    for (let i = 0; i < 60; i++) await trainFor(m, 0);
    assert.equal(tf.memory().numTensors, before, 'a step leaves no tensor behind');
    const probs = await predictLive(m, 'a');
    assert.equal(probs.length, w * h * 2);
    let right = 0;
    for (let i = 0; i < w * h; i++) if ((probs[i * 2 + 1] > probs[i * 2] ? 1 : 0) === truth[i]) right++;
    assert.ok(right / (w * h) > 0.9, `${((100 * right) / (w * h)).toFixed(1)}% of the pixels right after 61 steps`);
    // Nothing labelled anywhere: no step, and still a prediction.
    setLabels(m, 'a', new Uint8Array(w * h).fill(VOID_INDEX));
    assert.deepEqual(await trainFor(m, 50), { steps: 0, loss: null });
    assert.equal((await predictLive(m, 'a')).length, w * h * 2);
    assert.throws(() => setLabels(m, 'a', new Uint8Array(5)), /5 labels for a 100x70 image/);
  } finally {
    disposeLiveModel(m);
  }
});
