/**
 * Segmentation metrics over labelled pixels only. The confusion matrix counts
 * (true class, predicted class) pairs where the label is a real class; void pixels never
 * count. Everything else (pixel accuracy, IoU, Dice) is derived from it. The one
 * implementation: eval, validation, the benchmarks, the report and the viewer page use it
 * (browser-safe).
 */
import { VOID_INDEX } from '../data/labelIndices.js';

/** K x K counts, row = true class, column = predicted class. */
export interface Confusion {
  numClasses: number;
  counts: Float64Array;
}

/** An empty confusion matrix. */
export function emptyConfusion(numClasses: number): Confusion {
  return { numClasses, counts: new Float64Array(numClasses * numClasses) };
}

/** Add the pixels of one image: `truth` may hold VOID_INDEX (skipped), `pred` must not. */
export function accumulate(conf: Confusion, truth: Uint8Array, pred: Uint8Array): void {
  const k = conf.numClasses;
  if (truth.length !== pred.length) throw new Error(`confusion: ${truth.length} labels vs ${pred.length} predictions`);
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    if (t === VOID_INDEX) continue;
    const p = pred[i];
    if (p >= k) throw new Error(`prediction ${p} is not a real class (there are ${k})`);
    conf.counts[t * k + p]++;
  }
}

/** Sum of two confusion matrices (e.g. over images). */
export function addConfusion(a: Confusion, b: Confusion): Confusion {
  const out = emptyConfusion(a.numClasses);
  for (let i = 0; i < out.counts.length; i++) out.counts[i] = a.counts[i] + b.counts[i];
  return out;
}

export interface Metrics {
  /** Labelled pixels counted. */
  pixels: number;
  /** Correct / labelled (fastai's acc_camvid). NaN when nothing is labelled. */
  pixelAccuracy: number;
  /** Per class: TP / (TP + FP + FN); NaN for a class absent from both truth and prediction. */
  iou: number[];
  /** Per class: 2TP / (2TP + FP + FN). */
  dice: number[];
  /** Mean of the per-class IoUs that are defined. */
  meanIoU: number;
  meanDice: number;
  /** The matrix itself, as rows. */
  confusion: number[][];
}

function meanDefined(xs: number[]): number {
  const d = xs.filter((x) => !Number.isNaN(x));
  return d.length ? d.reduce((a, b) => a + b, 0) / d.length : NaN;
}

/** Derive the metrics from a confusion matrix. */
export function metricsFrom(conf: Confusion): Metrics {
  const k = conf.numClasses;
  const c = conf.counts;
  let total = 0;
  let correct = 0;
  const iou: number[] = [];
  const dice: number[] = [];
  for (let i = 0; i < k; i++) {
    let rowSum = 0;
    let colSum = 0;
    for (let j = 0; j < k; j++) {
      rowSum += c[i * k + j];
      colSum += c[j * k + i];
    }
    const tp = c[i * k + i];
    const fp = colSum - tp;
    const fn = rowSum - tp;
    total += rowSum;
    correct += tp;
    iou.push(tp + fp + fn > 0 ? tp / (tp + fp + fn) : NaN);
    dice.push(tp + fp + fn > 0 ? (2 * tp) / (2 * tp + fp + fn) : NaN);
  }
  const confusion = Array.from({ length: k }, (_, i) => Array.from(c.subarray(i * k, (i + 1) * k)));
  return {
    pixels: total,
    pixelAccuracy: total > 0 ? correct / total : NaN,
    iou,
    dice,
    meanIoU: meanDefined(iou),
    meanDice: meanDefined(dice),
    confusion,
  };
}

/**
 * Accuracy inside the gap: over pixels that are void in the labels but have a real class
 * in the full truth, the share predicted as that class. Returns counts to be summed.
 */
export function gapCounts(labels: Uint8Array, truth: Uint8Array, pred: Uint8Array): { correct: number; total: number } {
  let correct = 0;
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== VOID_INDEX || truth[i] === VOID_INDEX) continue;
    total++;
    if (pred[i] === truth[i]) correct++;
  }
  return { correct, total };
}
