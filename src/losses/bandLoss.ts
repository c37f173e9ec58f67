/**
 * The band head's loss (--gap-loss band): binary cross-entropy of the band logit against
 * "this pixel lies in the gap" on every pixel inside its crop. It gives the network what the
 * void-as-a-class fix gives it, the band as something to detect, without putting void in the
 * class softmax: the class logits get no gradient from it, only the shared features do.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gapPixels, type GapLossInputs } from './gapLoss.js';

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
