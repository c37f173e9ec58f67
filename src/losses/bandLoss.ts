/**
 * The band head's losses (--gap-loss band). By default a binary cross-entropy of the band logit
 * against "this pixel lies in the gap" on every pixel inside its crop: it gives the network what
 * the void-as-a-class fix gives it, the band as something to detect, without putting void in the
 * class softmax: the class logits get no gradient from it, only the shared features do. With
 * --band-softmax, the fix's own loss: the band logit inside the softmax, so in the gap the class
 * logits are pushed down too. Either way the saved model has no band output.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gapPixels, type GapLossInputs } from './gapLoss.js';
import { maskedCrossEntropy } from './crossEntropy.js';

/** Value and gradient of the band loss w.r.t. the band logits [n,h,w,1]. */
export type BandTerm = (bandLogits: tf.Tensor4D) => { value: number; grad: tf.Tensor4D };

/**
 * The band loss of a batch: each pixel inside its crop weighs `weight` labelled pixels of
 * weight 1 (the sum is divided by the batch's labelled weight, as the cross-entropy is; by the
 * pixels inside the crops when nothing is labelled).
 */
export function bandLossTerm(weight: number, batch: GapLossInputs): BandTerm {
  const { gap } = gapPixels(batch);
  const inside = (i: number) => !batch.valid || batch.valid[i] === 1;
  let pixels = 0;
  for (let i = 0; i < gap.length; i++) if (inside(i)) pixels++;
  const labelled = batch.targets?.weightSum ?? 0;
  const scale = pixels === 0 ? 0 : weight / (labelled > 0 ? labelled : pixels);
  return (bandLogits) => {
    const z = bandLogits.dataSync();
    if (z.length !== gap.length) throw new Error(`band loss: ${z.length} band logits for ${gap.length} pixels`);
    const grad = new Float32Array(z.length);
    let value = 0;
    for (let i = 0; i < z.length; i++) {
      if (!inside(i) || scale === 0) continue;
      const y = gap[i];
      // log(1 + e^-|z|) + max(z, 0) - y z: the stable form of the cross-entropy of sigmoid(z).
      value += Math.log1p(Math.exp(-Math.abs(z[i]))) + Math.max(z[i], 0) - y * z[i];
      grad[i] = (1 / (1 + Math.exp(-z[i])) - y) * scale;
    }
    return { value: value * scale, grad: tf.tensor4d(grad, bandLogits.shape) };
  };
}

/** The loss of all logits [n,h,w,k+1] of a network with a band head: value and gradient. */
export type BandSoftmaxTerm = (logits: tf.Tensor4D) => { value: number; grad: tf.Tensor };

/**
 * The band softmax loss of a batch (--band-softmax): one cross-entropy over the k class logits
 * and the band logit, labelled pixels towards their class, gap pixels inside their crop towards
 * the band with weight `weight`, averaged over all of them: the void-as-a-class loss, whose band
 * output the saved model then drops.
 */
export function bandSoftmaxTerm(weight: number, batch: GapLossInputs): BandSoftmaxTerm {
  const { gap, k } = gapPixels(batch);
  const oneHot = batch.targets?.oneHot as Float32Array;
  const targets = new Float32Array(gap.length * (k + 1));
  let weightSum = batch.targets?.weightSum ?? 0;
  for (let i = 0; i < gap.length; i++) {
    for (let c = 0; c < k; c++) targets[i * (k + 1) + c] = oneHot[i * k + c];
    if (gap[i] && weight > 0) {
      targets[i * (k + 1) + k] = weight;
      weightSum += weight;
    }
  }
  return (logits) => {
    if (logits.shape[3] !== k + 1) throw new Error(`band softmax loss: ${logits.shape[3]} logits per pixel for ${k} classes and the band`);
    const t = tf.tensor4d(targets, logits.shape);
    try {
      return maskedCrossEntropy(logits, t, weightSum);
    } finally {
      t.dispose();
    }
  };
}
