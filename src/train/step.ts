/**
 * One optimisation step: forward in training mode, masked cross-entropy, gradients of the
 * trainable weights, Adam update, then the batch-norm moving averages.
 */
import * as tf from '@tensorflow/tfjs-core';
import { unetForward, updateMovingStats, type BatchStats, type UNet } from '../model/unet.js';
import { maskedCrossEntropy, type LossTargets } from './loss.js';
import { adamUpdate, type AdamHyper, type AdamState } from './adam.js';

/** A batch on the host: normalised NHWC images and loss targets. */
export interface HostBatch {
  n: number;
  height: number;
  width: number;
  /** [n, height, width, 3] */
  images: Float32Array;
  targets: LossTargets;
}

/** Run one training step and return the loss value (before the update). */
export function trainStep(net: UNet, adam: AdamState, batch: HostBatch, hyper: AdamHyper): number {
  const k = net.config.numClasses;
  const stats: BatchStats = new Map();
  const { value, grads } = tf.tidy(() => {
    const x = tf.tensor4d(batch.images, [batch.n, batch.height, batch.width, net.config.inChannels]);
    const t = tf.tensor4d(batch.targets.oneHot, [batch.n, batch.height, batch.width, k]);
    return tf.variableGrads(() => {
      const logits = unetForward(net, x, true, stats);
      return maskedCrossEntropy(logits, t, batch.targets.weightSum);
    }, Object.values(net.params));
  });
  const loss = value.dataSync()[0];
  // variableGrads keys gradients by the engine's variable names; map them to ours.
  const byParam: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(net.params)) {
    const g = grads[v.name];
    if (!g) throw new Error(`no gradient for ${k}`);
    byParam[k] = g;
  }
  adamUpdate(net.params, byParam, adam, hyper);
  updateMovingStats(net, stats);
  value.dispose();
  tf.dispose(grads);
  return loss;
}
