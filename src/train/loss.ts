/**
 * The loss: softmax cross-entropy averaged over labelled pixels only.
 *
 * Targets are given as a weighted one-hot tensor: for a labelled pixel of class c the
 * vector is w_c at c and 0 elsewhere; for a void pixel it is all zeros, so void pixels add
 * nothing to the loss and nothing to the gradient. The normaliser (sum of the weights of
 * labelled pixels) is computed on the host from the labels, so a batch with no labelled
 * pixel gives exactly 0 loss and 0 gradients, with no division by zero anywhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VOID_INDEX } from '../data/classes.js';

/** Weighted one-hot targets and their normaliser, built on the host from class indices. */
export interface LossTargets {
  /** [N, H, W, K] weighted one-hot values. */
  oneHot: Float32Array;
  /** Sum of weights over labelled pixels (0 if none). */
  weightSum: number;
  /** Number of labelled pixels. */
  labelled: number;
}

/** Build targets from class indices (VOID_INDEX = unlabelled) and optional per-class weights. */
export function lossTargets(labels: Uint8Array, numClasses: number, classWeights?: number[]): LossTargets {
  const oneHot = new Float32Array(labels.length * numClasses);
  let weightSum = 0;
  let labelled = 0;
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (c === VOID_INDEX) continue;
    if (c >= numClasses) throw new Error(`class index ${c} out of range for ${numClasses} classes`);
    const w = classWeights ? classWeights[c] : 1;
    oneHot[i * numClasses + c] = w;
    weightSum += w;
    labelled++;
  }
  return { oneHot, weightSum, labelled };
}

/**
 * Mean cross-entropy over labelled pixels: -sum(t * log_softmax(logits)) / sum(t).
 * `targets` is the weighted one-hot tensor matching `logits`' shape.
 */
export function maskedCrossEntropy(logits: tf.Tensor, targets: tf.Tensor, weightSum: number): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const total = tf.sum(tf.mul(targets, logp));
    // weightSum is 0 only when every pixel is void; then total is exactly 0 too.
    const scale = weightSum > 0 ? -1 / weightSum : 0;
    return tf.mul(total, scale) as tf.Scalar;
  });
}
