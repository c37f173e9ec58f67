/**
 * The loss a run trains with, behind one interface: the training step asks it for a batch's
 * loss and never names one. What it does with the gap is the one choice:
 *   'softmax' (default): the gap trains one more output in the softmax (gapSoftmax.ts), dropped
 *             from the saved model;
 *   'none':   cross-entropy on labelled pixels only; the gap adds nothing.
 */
import { maskedCrossEntropy } from './crossEntropy.js';
import { gapSoftmaxLoss } from './gapSoftmax.js';
import type { LogitsLoss, LossBatch } from './lossBatch.js';
import * as tf from '@tensorflow/tfjs-core';

export type GapLoss = 'softmax' | 'none';
export const GAP_LOSSES: readonly GapLoss[] = ['softmax', 'none'];
export const DEFAULT_GAP_LOSS: GapLoss = 'softmax';

export interface TrainingLoss {
  /** Outputs the network has while it trains beyond one per class (never in a saved model). */
  extraOutputs: number;
  /** Whether class-balanced crops also centre on gap pixels, balancing the gap as one more class. */
  gapCrops: boolean;
  /** The loss of a batch whose targets cover k classes. */
  of: (batch: LossBatch, k: number) => LogitsLoss;
}

/** Cross-entropy over the labelled pixels of the batch. */
function labelledLoss(batch: LossBatch, k: number): LogitsLoss {
  const targets = batch.targets;
  return (logits) => {
    const t = tf.tensor4d(targets.oneHot, [batch.n, batch.height, batch.width, k]);
    try {
      return maskedCrossEntropy(logits, t, targets.weightSum);
    } finally {
      t.dispose();
    }
  };
}

/** The training loss of a run's gap setting. */
export function trainingLoss(gap: GapLoss): TrainingLoss {
  if (gap === 'softmax') return { extraOutputs: 1, gapCrops: true, of: gapSoftmaxLoss };
  return { extraOutputs: 0, gapCrops: false, of: labelledLoss };
}

/** One line for the training log. */
export function describeGapLoss(gap: GapLoss): string {
  return gap === 'softmax'
    ? 'the gap trains one more output in the softmax (the void-as-a-class loss), left out of the saved model'
    : 'none: cross-entropy on labelled pixels only';
}
