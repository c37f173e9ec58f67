/**
 * Any image size: the receptive radius used for tile margins is right, tiled prediction
 * equals untiled prediction on an image that fits in one window, small and odd-sized images
 * are padded (not resized), and the row-streaming pipeline agrees with the whole-image one.
 */
import { disposeNet, netForward } from '../src/nets/index.js';
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { engine, tmpDir } from './helpers.js';
import { saveTinyModel, writeTestImage, readNpy, testImage } from './predictHelpers.js';
import { loadModel } from '../src/formats/modelFolder.js';

import { exportOnnx } from '../src/formats/onnx/export.js';
import { openPredictor } from '../src/predict/open.js';
import { predictStream } from '../src/predict/stream.js';
import { predictImage } from '../src/predict/pipeline.js';
import { allowedClasses } from '../src/predict/forbid.js';
import { imageGeometry, unetReceptiveRadius, fillWindow } from '../src/predict/plan.js';
import { predictModel, type Predictor } from '../src/predict/model.js';

before(engine);

test('the receptive radius 7*2^depth-5 bounds (tightly) how far one input pixel reaches', async () => {
  for (const depth of [1, 2]) {
    const dir = path.join(tmpDir(), 'm');
    await saveTinyModel(dir, { depth, width: 4 });
    const { net } = loadModel(dir);
    const s = 96;
    const base = tf.randomNormal([1, s, s, 3], 0, 1, 'float32', 3);
    const bump = tf.tensor4d(
      Float32Array.from({ length: s * s * 3 }, (_, i) => (i === (48 * s + 48) * 3 ? 5 : 0)),
      [1, s, s, 3],
    );
    const diff = tf.tidy(() =>
      tf.abs(tf.sub(netForward(net, tf.add(base, bump) as tf.Tensor4D, false), netForward(net, base as tf.Tensor4D, false))),
    );
    const d = (await diff.data()) as Float32Array;
    let reach = 0;
    for (let y = 0; y < s; y++)
      for (let x = 0; x < s; x++)
        if (d[(y * s + x) * 2] > 0 || d[(y * s + x) * 2 + 1] > 0) reach = Math.max(reach, Math.abs(x - 48), Math.abs(y - 48));
    const r = unetReceptiveRadius(depth);
    assert.ok(reach <= r, `depth ${depth}: a pixel changes outputs ${reach} px away, beyond the radius ${r}`);
    assert.ok(reach > r - 2 ** depth, `depth ${depth}: reach ${reach} is far below the radius ${r}; the bound is loose`);
    tf.dispose([base, bump, diff]);
    disposeNet(net);
  }
});

async function npyOf(predictor: Predictor, file: string, out: string): Promise<Float32Array> {
  const r = await predictStream([file], predictor, { outDir: out, forbidden: [], npy: true });
  assert.equal(r.predicted, 1);
  const npy = readNpy(path.join(out, 'npy', `${path.basename(file, '.png')}.npy`));
  return npy.data;
}

test('tiled prediction equals untiled prediction when margins cover the receptive radius (ONNX Runtime)', async () => {
  const dir = tmpDir();
  const model = path.join(dir, 'model');
  await saveTinyModel(model, { depth: 2, width: 4, tile: 256 });
  await exportOnnx(model, { threads: 2, version: 'test' });
  const img = path.join(dir, 'in', 'odd.png');
  await writeTestImage(img, 150, 118, 7);
  const p = await openPredictor(model, { engine: 'onnx', threads: 2 });
  try {
    assert.equal(p.engine, 'onnx');
    const untiled = await npyOf(p, img, path.join(dir, 'untiled'));
    // Windows of 64 with a 24-pixel margin (radius 23) and an 8-pixel cross-fade.
    p.plan = { ...p.plan, tile: 64, margin: 24, ramp: 8 };
    const g = imageGeometry(150, 118, p.plan);
    assert.ok(g.xs.length >= 4 && g.ys.length >= 3, `expected a grid of windows, got ${g.xs.length}x${g.ys.length}`);
    const tiled = await npyOf(p, img, path.join(dir, 'tiled'));
    assert.equal(tiled.length, untiled.length);
    let max = 0;
    for (let i = 0; i < tiled.length; i++) max = Math.max(max, Math.abs(tiled[i] - untiled[i]));
    // Every blended score is a convex combination of window scores that each saw their whole
    // receptive field on the same pooling grid, so only float rounding (~1e-6) can differ.
    assert.ok(max < 1e-4, `tiled and untiled probabilities differ by ${max}`);
  } finally {
    p.dispose();
  }
});

test('default blending (margin below the radius) stays close to untiled: no seams', async () => {
  const dir = tmpDir();
  const model = path.join(dir, 'model');
  await saveTinyModel(model, { depth: 2, width: 4, tile: 256 });
  await exportOnnx(model, { threads: 2, version: 'test' });
  const img = path.join(dir, 'in', 'a.png');
  await writeTestImage(img, 200, 160, 8);
  const p = await openPredictor(model, { engine: 'onnx', threads: 2 });
  try {
    const untiled = await npyOf(p, img, path.join(dir, 'untiled'));
    p.plan = { ...p.plan, tile: 64 };
    const tiled = await npyOf(p, img, path.join(dir, 'tiled'));
    let sum = 0;
    let agree = 0;
    const n = tiled.length / 2;
    for (let i = 0; i < n; i++) {
      sum += Math.abs(tiled[2 * i + 1] - untiled[2 * i + 1]);
      if (tiled[2 * i + 1] > 0.5 === untiled[2 * i + 1] > 0.5) agree++;
    }
    assert.ok(sum / n < 0.01, `mean probability difference ${sum / n}`);
    assert.ok(agree / n > 0.99, `labels agree on ${(100 * agree) / n}% of pixels`);
  } finally {
    p.dispose();
  }
});

test('a small odd-sized image is padded by reflection, not resized', async () => {
  const dir = tmpDir();
  const model = path.join(dir, 'model');
  await saveTinyModel(model, { depth: 2, width: 4 });
  const img = path.join(dir, 'in', 'small.png');
  const [w, h] = [37, 23];
  await writeTestImage(img, w, h, 9);
  const p = await openPredictor(model, { engine: 'tfjs', threads: 2 });
  try {
    const got = await npyOf(p, img, path.join(dir, 'out'));
    // By hand: reflect-pad to 40x24, run the network once, crop, softmax.
    const input = new Float32Array(3 * 40 * 24);
    fillWindow(testImage(w, h, 9), w, h, 0, 0, 40, 24, p.plan, input, 0);
    const y = await p.net(input, 1, 24, 40);
    let max = 0;
    for (let yy = 0; yy < h; yy++) {
      for (let x = 0; x < w; x++) {
        const l0 = y[yy * 40 + x];
        const l1 = y[24 * 40 + yy * 40 + x];
        const p1 = 1 / (1 + Math.exp(l0 - l1));
        max = Math.max(max, Math.abs(got[(yy * w + x) * 2 + 1] - p1));
      }
    }
    assert.ok(max < 1e-5, `pipeline and hand-padded network differ by ${max}`);
  } finally {
    p.dispose();
  }
});

test('the streaming pipeline agrees with the whole-image prediction, also when resizing (scale 0.5)', async () => {
  const dir = tmpDir();
  const model = path.join(dir, 'model');
  await saveTinyModel(model, { depth: 2, width: 4, scale: 0.5 });
  const img = path.join(dir, 'in', 'b.png');
  const [w, h] = [91, 67];
  await writeTestImage(img, w, h, 10);
  const p = await openPredictor(model, { engine: 'tfjs', threads: 2 });
  try {
    const got = await npyOf(p, img, path.join(dir, 'out'));
    const pred = await predictImage({ width: w, height: h, data: testImage(w, h, 10) }, predictModel(p), allowedClasses(2, []));
    let max = 0;
    for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - pred.probs[i]));
    assert.ok(max < 1e-4, `streamed and whole-image probabilities differ by ${max}`);
  } finally {
    p.dispose();
  }
});
