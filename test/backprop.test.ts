/**
 * The hand-written backward pass of the U-Net with the loss training runs, against
 * TensorFlow.js autodiff of the same network (unetForward in training mode) and of a reference
 * cross-entropy written in tfjs ops: same loss, same gradient for every parameter, same batch
 * statistics; and an all-void batch gives 0 and zero gradients.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { engine } from './helpers.js';
import { createUNet, disposeUNet, unetForward, DEFAULT_UNET, type BatchStats } from '../src/nets/unet/unet.js';
import { lossAndGradients } from '../src/nets/unet/backprop.js';
import { lossTargets, maskedCrossEntropy } from '../src/losses/crossEntropy.js';
import { VOID_INDEX } from '../src/data/classes.js';
import { makeRng } from '../src/util/random.js';

before(engine);

/** Reference loss in tfjs ops, differentiated by autodiff: -sum(t * log_softmax(z)) / sum(t). */
function referenceLoss(logits: tf.Tensor, targets: tf.Tensor, weightSum: number): tf.Scalar {
  return tf.tidy(() => tf.mul(tf.sum(tf.mul(targets, tf.logSoftmax(logits))), weightSum > 0 ? -1 / weightSum : 0) as tf.Scalar);
}

/** The loss training runs, on these targets. */
const trainingLoss = (t: tf.Tensor, weightSum: number) => (logits: tf.Tensor4D) => maskedCrossEntropy(logits, t, weightSum);

function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / (tf.max(tf.abs(b)).dataSync()[0] + 1e-12));
}

const cases: [string, number, number, number, number[] | undefined][] = [
  ['2 classes, depth 2', 2, 2, 4, undefined],
  ['3 classes, depth 3, class weights', 3, 3, 4, [1, 2.5, 0.5]],
];

for (const [name, k, depth, width, weights] of cases) {
  test(`hand-written gradients equal autodiff: ${name}`, () => {
    const net = createUNet({ ...DEFAULT_UNET, numClasses: k, depth, baseWidth: width }, 4);
    const rng = makeRng(8);
    const [n, s] = [2, 2 ** depth * 3];
    const x = tf.tensor4d(
      Float32Array.from({ length: n * s * s * 3 }, () => rng.next() * 2 - 1),
      [n, s, s, 3],
    );
    const labels = Uint8Array.from({ length: n * s * s }, () => (rng.next() < 0.25 ? VOID_INDEX : Math.floor(rng.next() * k)));
    const tg = lossTargets(labels, k, weights);
    const t = tf.tensor4d(tg.oneHot, [n, s, s, k]);
    const ours = lossAndGradients(net, x, trainingLoss(t, tg.weightSum));
    const oursLoss = ours.loss.dataSync()[0];
    ours.loss.dispose();
    const refStats: BatchStats = new Map();
    const ref = tf.variableGrads(() => referenceLoss(unetForward(net, x, true, refStats), t, tg.weightSum), Object.values(net.params));
    assert.ok(
      Math.abs(oursLoss - ref.value.dataSync()[0]) < 1e-5 * Math.max(1, oursLoss),
      `loss ${oursLoss} vs ${ref.value.dataSync()[0]}`,
    );
    assert.deepEqual(Object.keys(ours.grads).sort(), Object.keys(net.params).sort());
    for (const [p, v] of Object.entries(net.params)) {
      const d = relDiff(ours.grads[p], ref.grads[v.name]);
      assert.ok(d < 1e-4, `${p}: relative difference ${d}`);
    }
    for (const [bn, st] of refStats) {
      const o = ours.batchStats.get(bn);
      assert.ok(o, `no batch statistics for ${bn}`);
      assert.ok(relDiff(o.mean, st.mean) < 1e-4 && relDiff(o.variance, st.variance) < 1e-3, `${bn} statistics differ`);
    }
    tf.dispose([x, t, ref.value, ...Object.values(ref.grads), ...Object.values(ours.grads)]);
    for (const st of [...ours.batchStats.values(), ...refStats.values()]) tf.dispose([st.mean, st.variance]);
    disposeUNet(net);
  });
}

test('an all-void batch: loss 0 and every gradient exactly 0 (no NaN)', () => {
  const net = createUNet({ ...DEFAULT_UNET, numClasses: 2, depth: 2, baseWidth: 4 }, 5);
  const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const tg = lossTargets(new Uint8Array(2 * 8 * 8).fill(VOID_INDEX), 2);
  assert.equal(tg.weightSum, 0);
  const t = tf.tensor4d(tg.oneHot, [2, 8, 8, 2]);
  const r = lossAndGradients(net, x, trainingLoss(t, tg.weightSum));
  assert.equal(r.loss.dataSync()[0], 0);
  for (const [p, g] of Object.entries(r.grads)) {
    const v = g.dataSync();
    assert.ok(
      v.every((z) => z === 0),
      `${p} has a non-zero or NaN gradient`,
    );
  }
  tf.dispose([x, t, r.loss, ...Object.values(r.grads)]);
  for (const st of r.batchStats.values()) tf.dispose([st.mean, st.variance]);
  disposeUNet(net);
});
