/**
 * The loss training runs (losses/crossEntropy.ts, on the wasm engine): mean cross-entropy over
 * labelled pixels only, exactly zero (with zero gradients, no NaN) when nothing is labelled,
 * class-weighted means; value and gradient against double-precision references.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { VOID_INDEX } from '../src/data/classes.js';
import { lossTargets, maskedCrossEntropy } from '../src/losses/crossEntropy.js';
import { engine } from './helpers.js';

before(engine);

const V = VOID_INDEX;

/** -log softmax(logits)[c], in double precision. */
function nll(logits: number[], c: number): number {
  const m = Math.max(...logits);
  const lse = m + Math.log(logits.reduce((s, z) => s + Math.exp(z - m), 0));
  return lse - logits[c];
}

/** Loss value and gradient w.r.t. the logits for NHWC logits of shape [1, h, w, k]. */
function lossAndGrad(
  logits: number[],
  h: number,
  w: number,
  k: number,
  labels: number[],
  weights?: number[],
): { loss: number; grad: Float32Array } {
  const t = lossTargets(Uint8Array.from(labels), k, weights);
  return tf.tidy(() => {
    const x = tf.tensor4d(logits, [1, h, w, k]);
    const targets = tf.tensor4d(t.oneHot, [1, h, w, k]);
    const { loss, grad } = maskedCrossEntropy(x, targets, t.weightSum);
    return { loss: loss.dataSync()[0], grad: grad.dataSync() as Float32Array };
  });
}

const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('2x2 case with a void pixel: the loss is the mean NLL over the three labelled pixels', () => {
  const logits = [1, 2, 0.5, -1, 3, 3, -2, 0.25, 4, 0, 1, 1]; // 2x2 pixels, K = 3
  const labels = [1, 0, V, 2];
  const px = (i: number) => logits.slice(3 * i, 3 * i + 3);
  const want = (nll(px(0), 1) + nll(px(1), 0) + nll(px(3), 2)) / 3;
  const { loss } = lossAndGrad(logits, 2, 2, 3, labels);
  close(loss, want);
  // The void pixel's logits do not matter at all.
  const changed = logits.slice();
  changed.splice(6, 3, 100, -50, 7);
  close(lossAndGrad(changed, 2, 2, 3, labels).loss, want);
});

test('gradient: (softmax - onehot) / labelled count at labelled pixels, exactly zero at void pixels', () => {
  const logits = [0.3, -0.2, 1.5, 0.1, -1, 2, 0.7, 0.7];
  const labels = [0, V, 1, V];
  const { grad } = lossAndGrad(logits, 2, 2, 2, labels);
  for (let i = 0; i < 4; i++) {
    const z = logits.slice(2 * i, 2 * i + 2);
    const e = z.map((v) => Math.exp(v));
    const p = e.map((v) => v / (e[0] + e[1]));
    for (let c = 0; c < 2; c++) {
      const g = grad[2 * i + c];
      if (labels[i] === V) assert.ok(g === 0, `void pixel ${i} class ${c}: ${g}`);
      else {
        close(g, (p[c] - (labels[i] === c ? 1 : 0)) / 2);
        assert.notEqual(g, 0);
      }
    }
  }
});

test('an all-void batch gives loss exactly 0 and all-zero gradients, no NaN', () => {
  const logits = [1, -2, 1e4, -1e4, 0, 0, 3, 5];
  const { loss, grad } = lossAndGrad(logits, 2, 2, 2, [V, V, V, V]);
  assert.equal(loss, 0);
  assert.ok(!Object.is(loss, NaN));
  for (const g of grad) assert.ok(g === 0, `gradient ${g}`);
});

test('extreme logits give a finite loss and gradient', () => {
  const { loss, grad } = lossAndGrad([1e4, -1e4, -1e4, 1e4], 1, 2, 2, [1, 1]);
  assert.ok(Number.isFinite(loss));
  close(loss, 1e4, 1e-4);
  for (const g of grad) assert.ok(Number.isFinite(g));
});

test('class weights give the weighted mean sum(w_y * nll) / sum(w_y)', () => {
  const logits = [2, 0, 0.5, 1, -1, 3, 0, 0, 1, -1, 2, 2, 0, 0, 0, 5, 1, 1];
  const labels = [0, 2, 1, V, 2, 0];
  const w = [0.5, 2, 3];
  const px = (i: number) => logits.slice(3 * i, 3 * i + 3);
  let num = 0;
  let den = 0;
  labels.forEach((c, i) => {
    if (c === V) return;
    num += w[c] * nll(px(i), c);
    den += w[c];
  });
  const { loss, grad } = lossAndGrad(logits, 2, 3, 3, labels, w);
  close(loss, num / den);
  for (let c = 0; c < 3; c++) assert.ok(grad[3 * 3 + c] === 0, 'void pixel');
  // Weight 0 for a class removes its pixels like void.
  const zero = lossAndGrad(logits, 2, 3, 3, labels, [0, 1, 1]);
  const pz = [1, 2, 4].map((i) => nll(px(i), labels[i]));
  close(zero.loss, pz.reduce((a, b) => a + b) / 3);
  for (const i of [0, 5]) for (let c = 0; c < 3; c++) assert.ok(zero.grad[3 * i + c] === 0, 'weight-0 pixel');
});

test('lossTargets: weighted one-hot, weight sum and labelled count; refuses out-of-range classes', () => {
  const t = lossTargets(new Uint8Array([1, V, 0, 1, V]), 2);
  assert.deepEqual([...t.oneHot], [0, 1, 0, 0, 1, 0, 0, 1, 0, 0]);
  assert.equal(t.labelled, 3);
  assert.equal(t.weightSum, 3);
  const w = lossTargets(new Uint8Array([1, V, 0, 1, 2]), 3, [0.5, 2, 4]);
  assert.equal(w.labelled, 4);
  assert.equal(w.weightSum, 8.5);
  assert.deepEqual([...w.oneHot.subarray(0, 3)], [0, 2, 0]);
  assert.deepEqual([...w.oneHot.subarray(12, 15)], [0, 0, 4]);
  const none = lossTargets(new Uint8Array([V, V]), 2);
  assert.equal(none.labelled, 0);
  assert.equal(none.weightSum, 0);
  assert.throws(() => lossTargets(new Uint8Array([0, 2]), 2), /class index 2/);
});
