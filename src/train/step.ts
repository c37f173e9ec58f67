/**
 * One optimisation step: the run's training loss of the batch, gradients by the network's
 * hand-written backward pass, Adam update, then the batch-norm moving averages.
 */
import * as tf from '@tensorflow/tfjs-core';
import { isEncoder, lossValue, netLossAndGradients, updateMovingStats, type AnyNet } from '../nets/index.js';
import type { LossBatch } from '../losses/lossBatch.js';
import type { TrainingLoss } from '../losses/trainingLoss.js';
import { adamUpdate, type AdamHyper, type AdamState } from './adam.js';

/** A batch on the host: normalised NHWC images, loss targets and the crops' validity. */
export interface HostBatch extends LossBatch {
  /** [n, height, width, 3] */
  images: Float32Array;
}

/** How a step treats a pretrained encoder: frozen (no gradient), or trained at a scaled learning rate. */
export interface EncoderPhase {
  trainEncoder: boolean;
  /** The encoder's learning rate relative to the decoder's. */
  encoderLrScale: number;
}

/** Run one training step and return the loss value (before the update), read once the step is queued. */
export async function trainStep(
  net: AnyNet,
  adam: AdamState,
  batch: HostBatch,
  hyper: AdamHyper,
  loss: TrainingLoss,
  phase: EncoderPhase = { trainEncoder: true, encoderLrScale: 1 },
): Promise<number> {
  const x = tf.tensor4d(batch.images, [batch.n, batch.height, batch.width, net.config.inChannels]);
  let result;
  try {
    result = netLossAndGradients(net, x, loss.of(batch, net.config.numClasses), phase.trainEncoder);
  } finally {
    x.dispose();
  }
  const { loss: value, grads, batchStats } = result;
  adamUpdate(net.params, grads, adam, hyper, (name) => (isEncoder(net.config, name) ? phase.encoderLrScale : 1));
  updateMovingStats(net, batchStats);
  tf.dispose(Object.values(grads));
  return lossValue(value);
}
