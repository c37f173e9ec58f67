/**
 * The fused U-Net ops with hand-written gradients, on wasm, against compositions of stock
 * tfjs ops (values and every gradient), plus a double-precision finite-difference check of
 * the batch norm + ReLU gradient.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { batchNormReluTrain, convOfConcat, upsample2x2, type BnBatchStats } from '../src/nets/ops.js';
import { makeRng, normal } from '../src/util/random.js';
import { engine } from './helpers.js';
import { maxRelDiff } from './kernelHelpers.js';

before(engine);

function randn(n: number, seed: number, scale = 1, shift = 0): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => normal(rng) * scale + shift);
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/**
 * Values and gradients of sum(f(inputs) * r) for a random r, for two implementations of f;
 * asserts both agree to `tol` (relative to the largest magnitude) and are not all zero.
 */
function compare(
  name: string,
  ours: (...t: tf.Tensor[]) => tf.Tensor,
  ref: (...t: tf.Tensor[]) => tf.Tensor,
  inputs: [Float32Array, number[]][],
  tol = 1e-4,
): void {
  const run = (f: (...t: tf.Tensor[]) => tf.Tensor) =>
    tf.tidy(() => {
      const ts = inputs.map(([v, s]) => tf.tensor(v, s));
      const y = f(...ts);
      const r = tf.tensor(randn(y.size, 99), y.shape);
      const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)))(ts);
      return [y.dataSync().slice(), ...grads.map((g) => g.dataSync().slice())] as Float32Array[];
    });
  const a = run(ours);
  const b = run(ref);
  assert.equal(a.length, b.length);
  const labels = ['value', ...inputs.map((_, i) => `gradient ${i}`)];
  for (let i = 0; i < a.length; i++) {
    const d = maxRelDiff(a[i], b[i]);
    assert.ok(d < tol, `${name}: ${labels[i]} differs by ${d}`);
    assert.ok(
      b[i].some((v) => v !== 0),
      `${name}: ${labels[i]} is all zero (test would be vacuous)`,
    );
  }
}

const bnRef = (eps: number) => (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.relu(tf.batchNorm(x as tf.Tensor4D, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, eps));
};

for (const [name, shape] of [
  ['2x5x3x4', [2, 5, 3, 4]],
  ['1x8x8x16', [1, 8, 8, 16]],
  ['3x4x4x1', [3, 4, 4, 1]],
] as const) {
  test(`batchNormReluTrain matches moments + batchNorm + relu (values, d/dx, d/dgamma, d/dbeta): ${name}`, () => {
    const c = shape[3];
    const eps = 1e-5;
    compare(`bn ${name}`, (x, g, b) => batchNormReluTrain(x as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, eps), bnRef(eps), [
      [randn(size([...shape]), 1, 2, 0.5), [...shape]],
      [randn(c, 2, 0.5, 1), [c]],
      [randn(c, 3, 0.3, 0.1), [c]],
    ]);
  });
}

test('batchNormReluTrain records the batch mean and biased variance', () => {
  const shape = [2, 3, 4, 3];
  const xv = randn(size(shape), 7, 3, 1);
  let stats: BnBatchStats | null = null;
  const [mean, variance] = tf.tidy(() => {
    const x = tf.tensor4d(xv, shape as [number, number, number, number]);
    batchNormReluTrain(x, tf.ones([3]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D, 1e-5, (s) => (stats = s));
    const m = tf.moments(x, [0, 1, 2]);
    return [m.mean.dataSync().slice(), m.variance.dataSync().slice()];
  });
  assert.ok(stats);
  const s = stats as BnBatchStats;
  assert.equal(s.count, 24);
  assert.ok(maxRelDiff(s.mean.dataSync(), mean) < 1e-5);
  assert.ok(maxRelDiff(s.variance.dataSync(), variance) < 1e-5);
  tf.dispose([s.mean, s.variance]);
});

/** BN + ReLU forward in double precision; returns sum(y * r). */
function bnReluObjective(x: Float64Array, g: Float64Array, b: Float64Array, r: Float64Array, m: number, c: number, eps: number): number {
  let total = 0;
  for (let ch = 0; ch < c; ch++) {
    let mean = 0;
    for (let i = 0; i < m; i++) mean += x[i * c + ch];
    mean /= m;
    let v = 0;
    for (let i = 0; i < m; i++) v += (x[i * c + ch] - mean) ** 2;
    v /= m;
    const rstd = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < m; i++) total += Math.max(0, (x[i * c + ch] - mean) * rstd * g[ch] + b[ch]) * r[i * c + ch];
  }
  return total;
}

test('batchNormReluTrain gradients agree with double-precision finite differences', () => {
  const shape: [number, number, number, number] = [2, 3, 2, 3];
  const m = 12;
  const c = 3;
  const eps = 1e-3;
  const x32 = randn(m * c, 21, 1.5);
  const g32 = Float32Array.from([1.2, -0.7, 0.4]);
  const b32 = Float32Array.from([0.1, 0.3, -0.2]);
  const r32 = randn(m * c, 22);
  const [gx, gg, gb] = tf.tidy(() => {
    const r = tf.tensor4d(r32, shape);
    const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(batchNormReluTrain(x as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, eps), r));
    return tf
      .grads(f)([tf.tensor4d(x32, shape), tf.tensor1d(g32), tf.tensor1d(b32)])
      .map((t) => t.dataSync().slice());
  });
  const x = Float64Array.from(x32);
  const g = Float64Array.from(g32);
  const b = Float64Array.from(b32);
  const r = Float64Array.from(r32);
  const h = 1e-6;
  const fd = (arr: Float64Array, i: number) => {
    const keep = arr[i];
    arr[i] = keep + h;
    const up = bnReluObjective(x, g, b, r, m, c, eps);
    arr[i] = keep - h;
    const down = bnReluObjective(x, g, b, r, m, c, eps);
    arr[i] = keep;
    return (up - down) / (2 * h);
  };
  for (const [label, arr, grad] of [
    ['x', x, gx],
    ['gamma', g, gg],
    ['beta', b, gb],
  ] as const) {
    const want = Array.from(arr, (_, i) => fd(arr, i));
    const d = maxRelDiff(grad, want);
    assert.ok(d < 1e-3, `d/d${label} differs from finite differences by ${d}`);
  }
  // Some outputs are clamped by the ReLU, so its gating is exercised.
  const y = tf.tidy(() => batchNormReluTrain(tf.tensor4d(x32, shape), tf.tensor1d(g32), tf.tensor1d(b32), eps).dataSync().slice());
  const zeros = y.filter((v) => v === 0).length;
  assert.ok(zeros > 0 && zeros < y.length, `${zeros} of ${y.length} outputs clamped`);
});

for (const [name, xs, cout] of [
  ['2x3x4x5 -> 6', [2, 3, 4, 5], 6],
  ['1x1x1x2 -> 1', [1, 1, 1, 2], 1],
  ['1x4x4x16 -> 8', [1, 4, 4, 16], 8],
] as const) {
  test(`upsample2x2 matches conv2dTranspose(stride 2, same) + bias (values and gradients): ${name}`, () => {
    const [n, h, w, cin] = xs;
    const ks = [2, 2, cout, cin];
    compare(
      `upsample ${name}`,
      (x, k, b) => upsample2x2(x as tf.Tensor4D, k as tf.Tensor4D, b as tf.Tensor1D),
      (x, k, b) => tf.add(tf.conv2dTranspose(x as tf.Tensor4D, k as tf.Tensor4D, [n, 2 * h, 2 * w, cout], 2, 'same'), b),
      [
        [randn(size([...xs]), 4), [...xs]],
        [randn(size(ks), 5), ks],
        [randn(cout, 6), [cout]],
      ],
    );
  });
}

for (const [name, as, cb, cout] of [
  ['2x6x5, 3+4 -> 5', [2, 6, 5, 3], 4, 5],
  ['1x8x8, 8+8 -> 8', [1, 8, 8, 8], 8, 8],
  ['1x3x3, 1+2 -> 1', [1, 3, 3, 1], 2, 1],
] as const) {
  test(`convOfConcat matches conv2d(concat(a, b)) (values and gradients): ${name}`, () => {
    const [n, h, w, ca] = as;
    const bs = [n, h, w, cb];
    const ks = [3, 3, ca + cb, cout];
    compare(
      `convOfConcat ${name}`,
      (a, b, k) => convOfConcat(a as tf.Tensor4D, b as tf.Tensor4D, k as tf.Tensor4D),
      (a, b, k) => tf.conv2d(tf.concat([a, b], 3) as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'),
      [
        [randn(size([...as]), 7), [...as]],
        [randn(size(bs), 8), bs],
        [randn(size(ks), 9), ks],
      ],
    );
  });
}
