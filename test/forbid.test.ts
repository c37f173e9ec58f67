/**
 * Forbidding classes: the one argmax over allowed classes against a naive one, its errors, and
 * "never void" end to end through a freshly initialised U-Net and the prediction pipeline.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { allowedClasses, argmaxAllowed, planesOf } from '../src/predict/forbid.js';
import { netModel, predictImage } from '../src/predict/pipeline.js';
import { recipePlan } from '../src/predict/plan.js';
import { tfjsNet } from '../src/predict/tfjsNet.js';
import { labelValues } from '../src/predict/outputs.js';
import { createUNet, disposeUNet, DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { parseClassesFlag } from '../src/data/classes.js';
import { GapsegError } from '../src/util/errors.js';
import { makeRng, type Rng } from '../src/util/random.js';
import { engine } from './helpers.js';

before(engine);

/** Naive per-pixel argmax over allowed classes, NHWC; ties to the lower index. */
function naive(scores: Float32Array, pixels: number, k: number, forbidden: number[]): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let p = 0; p < pixels; p++) {
    let best = -Infinity;
    let arg = -1;
    for (let c = 0; c < k; c++) {
      if (forbidden.includes(c)) continue;
      const v = scores[p * k + c];
      if (arg < 0 || v > best) {
        best = v;
        arg = c;
      }
    }
    out[p] = arg;
  }
  return out;
}

function randomForbidden(rng: Rng, k: number): number[] {
  const f = [...Array(k).keys()].filter(() => rng.next() < 0.4);
  if (f.length === k) f.pop();
  return f;
}

/** NCHW planes of NHWC scores, as the network's windows give them (views of one buffer). */
function nchwPlanes(nhwc: Float32Array, pixels: number, k: number): Float32Array[] {
  const flat = new Float32Array(nhwc.length);
  for (let p = 0; p < pixels; p++) for (let c = 0; c < k; c++) flat[c * pixels + p] = nhwc[p * k + c];
  return Array.from({ length: k }, (_, c) => flat.subarray(c * pixels, (c + 1) * pixels));
}

test('argmaxAllowed (the decision prediction and the viewer use) equals a naive argmax over allowed classes', () => {
  const rng = makeRng(1);
  for (const k of [1, 2, 3, 5, 12]) {
    for (let t = 0; t < 6; t++) {
      const pixels = 1 + Math.floor(rng.next() * 300);
      const scores = Float32Array.from({ length: pixels * k }, () => rng.next() * 10 - 5);
      const forbidden = t === 0 ? [] : randomForbidden(rng, k);
      const allowed = allowedClasses(k, forbidden);
      const want = naive(scores, pixels, k, forbidden);
      assert.deepEqual(argmaxAllowed(planesOf(scores, pixels, k), allowed, pixels), want, `K=${k} forbid [${forbidden}]`);
      assert.deepEqual(argmaxAllowed(nchwPlanes(scores, pixels, k), allowed, pixels), want, `planar K=${k} forbid [${forbidden}]`);
      for (const c of want) assert.ok(!forbidden.includes(c));
    }
  }
});

test('argmaxAllowed writes at an offset and leaves the rest of the output alone', () => {
  const planes = [new Float32Array([1, 0, 3]), new Float32Array([0, 2, 1]), new Float32Array([2, 1, 4])];
  const out = new Uint8Array(7).fill(9);
  argmaxAllowed(planes, [0, 1, 2], 3, out, 2);
  assert.deepEqual([...out], [9, 9, 2, 1, 2, 9, 9]);
  argmaxAllowed(planes, [0, 1], 3, out, 4);
  assert.deepEqual([...out], [9, 9, 2, 1, 0, 1, 0]);
});

test('argmaxAllowed: ties go to the lower allowed index, in both layouts', () => {
  const rng = makeRng(2);
  const k = 4;
  const pixels = 500;
  // Scores from {0, 1, 2}: many ties.
  const scores = Float32Array.from({ length: pixels * k }, () => Math.floor(rng.next() * 3));
  for (const forbidden of [[], [0], [1, 2], [3], [0, 1]]) {
    const allowed = allowedClasses(k, forbidden);
    const want = naive(scores, pixels, k, forbidden);
    assert.deepEqual(argmaxAllowed(planesOf(scores, pixels, k), allowed, pixels), want);
    assert.deepEqual(argmaxAllowed(nchwPlanes(scores, pixels, k), allowed, pixels), want);
  }
  const allEqual = new Float32Array(6).fill(0.5);
  assert.deepEqual([...argmaxAllowed(planesOf(allEqual, 2, 3), [0, 1, 2], 2)], [0, 0]);
  assert.deepEqual([...argmaxAllowed(planesOf(allEqual, 2, 3), [1, 2], 2)], [1, 1]);
});

test('a forbidden class is never predicted, whatever its score (even Infinity), and its plane is never read', () => {
  const scores = new Float32Array([Infinity, 1, 2, 1e30, -5, -Infinity, 9, -Infinity, -Infinity]);
  assert.deepEqual([...argmaxAllowed(planesOf(scores, 3, 3), allowedClasses(3, [0]), 3)], [2, 1, 1]);
  assert.deepEqual([...argmaxAllowed(planesOf(scores, 3, 3), allowedClasses(3, [0, 1]), 3)], [2, 2, 2]);
  // Every allowed score -Infinity: still an allowed class.
  assert.deepEqual([...argmaxAllowed(planesOf(new Float32Array([5, -Infinity, -Infinity]), 1, 3), [1, 2], 1)], [1]);
  const trap = new Proxy(new Float32Array(3), {
    get: () => {
      throw new Error('a forbidden plane was read');
    },
  });
  const planes = [trap, new Float32Array([1, 2, 3]), new Float32Array([3, 2, 1])];
  assert.deepEqual([...argmaxAllowed(planes, [1, 2], 3)], [2, 1, 1]);
  assert.deepEqual([...argmaxAllowed([...planes, new Float32Array([0, 9, 0])], [1, 2, 3], 3)], [2, 3, 1]);
});

test('forbidding every class, or a class out of range, is a GapsegError', () => {
  assert.throws(
    () => allowedClasses(3, [0, 1, 2]),
    (e: unknown) => e instanceof GapsegError && /every class is forbidden/.test(e.message),
  );
  assert.throws(() => allowedClasses(1, [0]), GapsegError);
  for (const bad of [3, -1, 1.5, NaN]) {
    assert.throws(
      () => allowedClasses(3, [bad]),
      (e: unknown) => e instanceof GapsegError && /cannot forbid class/.test(e.message) && /0\.\.2/.test(e.message),
      `class ${bad}`,
    );
  }
});

/** A random RGB image. */
function randomImage(rng: Rng, width: number, height: number) {
  return { width, height, data: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(rng.next() * 256)) };
}

for (const numClasses of [2, 3]) {
  test(`never void: a fresh ${numClasses}-class U-Net predicts only real classes, and never a forbidden one`, async () => {
    const desc = numClasses === 2 ? parseClassesFlag('0=background,255=smoke', ['128']) : parseClassesFlag('0=sky,1=cloud,2=sun', ['255']);
    const voidValue = desc.voidValues[0];
    const outClasses = desc.classes.map((c) => ({ name: c.name, value: c.value, color: c.color }));
    const recipe = { scale: 1, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], tile: 32 };
    const rng = makeRng(10 + numClasses);
    // Sizes: one tile padded to a multiple of 4, and a tiled one larger than `tile`.
    const images = [randomImage(rng, 30, 22), randomImage(rng, 70, 45)];
    for (const seed of [1, 2, 3]) {
      const net = createUNet({ ...DEFAULT_UNET, numClasses, depth: 2, baseWidth: 4 }, seed);
      try {
        const model = netModel(tfjsNet(net), recipePlan(recipe, 4), numClasses);
        const all = allowedClasses(numClasses, []);
        for (const img of images) {
          const pred = await predictImage(img, model, all);
          assert.equal(pred.classes.length, img.width * img.height);
          for (const c of pred.classes) assert.ok(c < numClasses, `class ${c}`);
          const values = new Set(labelValues(pred.classes, outClasses));
          for (const v of values) assert.ok(desc.classes.some((c) => c.value === v) && v !== voidValue, `label value ${v}`);
          for (let p = 0; p < 50; p++) {
            let s = 0;
            for (let c = 0; c < numClasses; c++) s += pred.probs[p * numClasses + c];
            assert.ok(Math.abs(s - 1) < 1e-5);
          }
        }
        // Make the last class win everywhere, then forbid it: it must never appear.
        const f = numClasses - 1;
        const bias = new Float32Array(numClasses);
        bias[f] = 50;
        net.params['head/bias'].assign(tf.tensor1d(bias));
        for (const img of images) {
          const free = await predictImage(img, model, all);
          assert.ok(
            free.classes.every((c) => c === f),
            'the biased class wins without forbidding (test is not vacuous)',
          );
          const pred = await predictImage(img, model, allowedClasses(numClasses, [f]));
          for (const c of pred.classes) assert.ok(c < numClasses && c !== f, `class ${c}`);
          const values = new Set(labelValues(pred.classes, outClasses));
          assert.ok(!values.has(desc.classes[f].value) && !values.has(voidValue));
        }
      } finally {
        disposeUNet(net);
      }
    }
  });
}
