/** What a loss sees of a training batch, and what it gives back to the network's backward pass. */
import type * as tf from '@tensorflow/tfjs-core';
import type { LossTargets } from './crossEntropy.js';

/** A batch of crops as the loss sees it: its targets and which pixels lie inside their image. */
export interface LossBatch {
  n: number;
  height: number;
  width: number;
  targets: LossTargets;
  /** 1 where a crop pixel lies inside its image [n, height, width] (absent: all inside). */
  valid?: Uint8Array;
}

/**
 * A loss as a function of the network's NHWC logits: its value and its gradient w.r.t. them. The
 * value stays a tensor: reading it is the caller's (asynchronously: WebGPU has no synchronous read).
 */
export type LogitsLoss = (logits: tf.Tensor4D) => { loss: tf.Scalar; grad: tf.Tensor };
