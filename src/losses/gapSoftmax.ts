/**
 * The gap in the softmax: during training the network has one more output, the gap output, and
 * one cross-entropy runs over the classes and it, labelled pixels towards their class and gap
 * pixels (void inside the crop) towards the gap output. That is the void-as-a-class loss, which
 * places the frontier better than a loss on labelled pixels alone; the gap output is then left
 * out of the saved model, so nothing can ever predict it and no bias needs setting to -500.
 */
import * as tf from '@tensorflow/tfjs-core';
import { maskedCrossEntropy } from './crossEntropy.js';
import type { LogitsLoss, LossBatch } from './lossBatch.js';

/** 1 at each pixel of the batch inside its crop that has no target: the gap. */
export function gapPixels(batch: LossBatch, k: number): Uint8Array {
  const { oneHot } = batch.targets;
  const gap = new Uint8Array(batch.n * batch.height * batch.width);
  if (oneHot.length !== gap.length * k)
    throw new Error(`gap loss: ${oneHot.length} target values for ${gap.length} pixels of ${k} classes`);
  for (let i = 0; i < gap.length; i++) {
    if (batch.valid && !batch.valid[i]) continue;
    let s = 0;
    for (let c = 0; c < k; c++) s += oneHot[i * k + c];
    if (s === 0) gap[i] = 1;
  }
  return gap;
}

/**
 * The loss of a batch over k class logits and the gap logit (the last of k + 1): each gap pixel
 * weighs as much as a labelled pixel of weight 1, and the sum is divided by the total weight.
 */
export function gapSoftmaxLoss(batch: LossBatch, k: number): LogitsLoss {
  const gap = gapPixels(batch, k);
  const { oneHot } = batch.targets;
  const targets = new Float32Array(gap.length * (k + 1));
  let weightSum = batch.targets.weightSum;
  for (let i = 0; i < gap.length; i++) {
    for (let c = 0; c < k; c++) targets[i * (k + 1) + c] = oneHot[i * k + c];
    if (gap[i]) {
      targets[i * (k + 1) + k] = 1;
      weightSum += 1;
    }
  }
  return (logits) => {
    if (logits.shape[3] !== k + 1) throw new Error(`gap loss: ${logits.shape[3]} logits per pixel for ${k} classes and the gap`);
    const t = tf.tensor4d(targets, logits.shape);
    try {
      return maskedCrossEntropy(logits, t, weightSum);
    } finally {
      t.dispose();
    }
  };
}
