/**
 * The loss a run trains with, behind one interface: the training step asks it for a batch's
 * loss and never names one. What it does with the gap is the one choice:
 *   'softmax' (default): the gap trains one more output in the softmax (gapSoftmax.ts), dropped
 *             from the saved model;
 *   'none':   cross-entropy on labelled pixels only; the gap adds nothing.
 * Where most training pixels are unlabelled (strokes painted in the viewer), void is not a gap
 * between classes but everything nobody looked at; a run given no choice then takes 'none'.
 */
import { maskedCrossEntropy } from './crossEntropy.js';
import { gapSoftmaxLoss } from './gapSoftmax.js';
import type { LogitsLoss, LossBatch } from './lossBatch.js';
import * as tf from '@tensorflow/tfjs-core';

export type GapLoss = 'softmax' | 'none';
export const GAP_LOSSES: readonly GapLoss[] = ['softmax', 'none'];
export const DEFAULT_GAP_LOSS: GapLoss = 'softmax';
/** Above this share of unlabelled training pixels, labels are sparse: their void is no gap. */
export const SPARSE_VOID_SHARE = 0.5;

/** The gap loss of a run given none, from the share of its training pixels that are void. */
export function defaultGapLoss(voidShare: number): GapLoss {
  return voidShare > SPARSE_VOID_SHARE ? 'none' : DEFAULT_GAP_LOSS;
}

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

/** One line for the training log (null: not decided yet, see defaultGapLoss). */
export function describeGapLoss(gap: GapLoss | null): string {
  if (gap === null) return 'decided by the share of unlabelled training pixels';
  return gap === 'softmax'
    ? 'the gap trains one more output in the softmax (the void-as-a-class loss), left out of the saved model'
    : 'none: cross-entropy on labelled pixels only';
}
