/**
 * One optimisation step: loss and gradients (hand-written backward pass, see backprop.ts),
 * Adam update, then the batch-norm moving averages.
 */
import * as tf from '@tensorflow/tfjs-core';
import { updateMovingStats, type UNet } from '../model/unet.js';
import type { LossTargets } from './loss.js';
import { adamUpdate, type AdamHyper, type AdamState } from './adam.js';
import { lossAndGradients } from './backprop.js';
import { gapLossTerm, type GapLossConfig } from './gapLoss.js';

/** A batch on the host: normalised NHWC images and loss targets. */
export interface HostBatch {
  n: number;
  height: number;
  width: number;
  /** [n, height, width, 3] */
  images: Float32Array;
  targets: LossTargets;
  /** The crops' RGB bytes before normalisation [n, height, width, 3] (needed by a gap loss). */
  rgb?: Uint8Array;
  /** 1 where a crop pixel lies inside its image [n, height, width] (absent: all inside). */
  valid?: Uint8Array;
}

/** Run one training step and return the loss value (before the update), gap loss included. */
export function trainStep(net: UNet, adam: AdamState, batch: HostBatch, hyper: AdamHyper, gapLoss: GapLossConfig | null = null): number {
  const k = net.config.numClasses;
  const x = tf.tensor4d(batch.images, [batch.n, batch.height, batch.width, net.config.inChannels]);
  const t = tf.tensor4d(batch.targets.oneHot, [batch.n, batch.height, batch.width, k]);
  const extra = gapLoss ? gapLossTerm(gapLoss, batch) : null;
  let result;
  try {
    result = lossAndGradients(net, x, t, batch.targets.weightSum, extra?.term);
  } finally {
    extra?.dispose();
    tf.dispose([x, t]);
  }
  const { loss, grads, batchStats } = result;
  adamUpdate(net.params, grads, adam, hyper);
  updateMovingStats(net, batchStats);
  tf.dispose(Object.values(grads));
  return loss;
}
