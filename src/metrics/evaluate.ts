/**
 * Evaluating predictions against labels: labelled-pixel metrics from the confusion matrix,
 * and, where a full truth exists, accuracy inside the unlabelled gap.
 */
import { accumulate, emptyConfusion, gapCounts, metricsFrom, type Confusion, type Metrics } from './confusion.js';

/** Running totals over a set of images. */
export interface EvalTotals {
  confusion: Confusion;
  gapCorrect: number;
  gapTotal: number;
  images: number;
}

/** Empty totals for a K-class model. */
export function emptyTotals(numClasses: number): EvalTotals {
  return { confusion: emptyConfusion(numClasses), gapCorrect: 0, gapTotal: 0, images: 0 };
}

/** Add one image: labels (with void), predicted classes, optional full truth. */
export function addImage(t: EvalTotals, labels: Uint8Array, pred: Uint8Array, truth?: Uint8Array): void {
  accumulate(t.confusion, labels, pred);
  if (truth) {
    const g = gapCounts(labels, truth, pred);
    t.gapCorrect += g.correct;
    t.gapTotal += g.total;
  }
  t.images++;
}

export interface EvalReport extends Metrics {
  images: number;
  /** Share of gap pixels predicted as their true class; null without a full truth. */
  gapAccuracy: number | null;
  gapPixels: number;
}

/** Final metrics of the totals. */
export function report(t: EvalTotals): EvalReport {
  return {
    ...metricsFrom(t.confusion),
    images: t.images,
    gapAccuracy: t.gapTotal > 0 ? t.gapCorrect / t.gapTotal : null,
    gapPixels: t.gapTotal,
  };
}

/**
 * The metrics of the laziest model: the class most frequent among the labelled pixels of
 * `labels` predicted everywhere. A model that is not better learnt nothing (a rare object gives
 * it a high accuracy and half a mean IoU).
 */
export function majorityReport(labels: Iterable<Uint8Array>, numClasses: number): { classIndex: number; report: EvalReport } {
  const maps = [...labels];
  const counts = new Float64Array(numClasses);
  for (const l of maps) for (const c of l) if (c < numClasses) counts[c]++;
  const classIndex = counts.indexOf(Math.max(...counts));
  const t = emptyTotals(numClasses);
  for (const l of maps) addImage(t, l, new Uint8Array(l.length).fill(classIndex));
  return { classIndex, report: report(t) };
}
