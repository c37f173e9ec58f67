/**
 * Frontier metrics of one image, on class-index maps (VOID_INDEX = void):
 *
 * - boundary pixels of class c: pixels of c with a 4-neighbour of another real class. A void
 *   neighbour or the image border is not a frontier, so neither makes a boundary pixel.
 * - BF score (Csurka et al. 2013), per class: precision = share of predicted boundary pixels
 *   within distance theta of a true boundary pixel, recall = share of true boundary pixels
 *   within theta of a predicted one, F1 of the two. Predicted boundary pixels where the truth is
 *   void cannot be judged and are left out of the precision.
 * - Boundary IoU (Cheng et al. 2021), per class: IoU of the inner boundary bands, i.e. the
 *   pixels of each mask within distance d of a pixel of another real class. Unlike the
 *   reference code, which pads masks with background, the image border is not a contour (it
 *   is no frontier). Pixels where the truth is void count in neither band.
 * - Frontier inside the gap: predicted frontier pixels (any class) whose label is void, over
 *   all predicted frontier pixels.
 * - Void predictions: pixels whose predicted label value is a void value.
 *
 * Distances are Euclidean, in pixels, between pixel centres (squaredDistanceTo).
 *
 * Empty cases: a class with no boundary pixel in truth nor prediction has BF = NaN, and one
 * with an empty band in both has Boundary IoU = NaN: "not assessed", left out of means (as
 * confusion.ts does for the IoU of an absent class), never 1 or 0 by fiat. A boundary present
 * on one side only scores 0.
 */
import { VOID_INDEX } from '../data/classes.js';
import { squaredDistanceTo } from '../data/gaps.js';

/** Default BF tolerance, as a share of the image diagonal (Csurka et al. 2013; MATLAB bfscore). */
export const DEFAULT_BF_TOLERANCE = 0.0075;
/** Default Boundary IoU band width, as a share of the image diagonal (Cheng et al. 2021). */
export const DEFAULT_BIOU_DILATION = 0.02;

/** Length of the image diagonal in pixels. */
export function diagonal(width: number, height: number): number {
  return Math.hypot(width, height);
}

/** 1 where a pixel of class `cls` has a 4-neighbour of another real (non-void) class. */
export function classBoundary(labels: Uint8Array, width: number, height: number, cls: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  const other = (j: number) => labels[j] !== cls && labels[j] !== VOID_INDEX;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (labels[i] !== cls) continue;
      if ((x > 0 && other(i - 1)) || (x < width - 1 && other(i + 1)) || (y > 0 && other(i - width)) || (y < height - 1 && other(i + width)))
        out[i] = 1;
    }
  }
  return out;
}

/** 1 where a real-class pixel has a 4-neighbour of another real class (the frontier, all classes). */
export function frontierPixels(labels: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const v = labels[i];
      if (v === VOID_INDEX) continue;
      const diff = (j: number) => labels[j] !== v && labels[j] !== VOID_INDEX;
      if ((x > 0 && diff(i - 1)) || (x < width - 1 && diff(i + 1)) || (y > 0 && diff(i - width)) || (y < height - 1 && diff(i + width)))
        out[i] = 1;
    }
  }
  return out;
}

export interface BoundaryF1 {
  /** True boundary pixels of the class. */
  truthPixels: number;
  /** Predicted boundary pixels of the class where the truth is known. */
  predPixels: number;
  /** Predicted boundary pixels within theta of a true one. */
  matchedPred: number;
  /** True boundary pixels within theta of a predicted one. */
  matchedTruth: number;
  precision: number;
  recall: number;
  /** NaN when neither side has a boundary; 0 when only one side has. */
  f1: number;
}

function count(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}

/** BF score of class `cls` at tolerance `theta` pixels. */
export function boundaryF1(truth: Uint8Array, pred: Uint8Array, width: number, height: number, cls: number, theta: number): BoundaryF1 {
  const bt = classBoundary(truth, width, height, cls);
  const bp = classBoundary(pred, width, height, cls);
  for (let i = 0; i < bp.length; i++) if (truth[i] === VOID_INDEX) bp[i] = 0;
  const truthPixels = count(bt);
  const predPixels = count(bp);
  const t2 = theta * theta;
  let matchedPred = 0;
  let matchedTruth = 0;
  if (truthPixels > 0 && predPixels > 0) {
    const toTruth = squaredDistanceTo((i) => bt[i] === 1, width, height);
    const toPred = squaredDistanceTo((i) => bp[i] === 1, width, height);
    for (let i = 0; i < bt.length; i++) {
      if (bp[i] && toTruth[i] <= t2) matchedPred++;
      if (bt[i] && toPred[i] <= t2) matchedTruth++;
    }
  }
  const precision = predPixels > 0 ? matchedPred / predPixels : NaN;
  const recall = truthPixels > 0 ? matchedTruth / truthPixels : NaN;
  let f1: number;
  if (truthPixels === 0 && predPixels === 0) f1 = NaN;
  else if (truthPixels === 0 || predPixels === 0 || precision + recall === 0) f1 = 0;
  else f1 = (2 * precision * recall) / (precision + recall);
  return { truthPixels, predPixels, matchedPred, matchedTruth, precision, recall, f1 };
}

/** 1 for pixels of class `cls` within distance `d` of a pixel of another real class. */
export function innerBand(labels: Uint8Array, width: number, height: number, cls: number, d: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  const dist = squaredDistanceTo((i) => labels[i] !== cls && labels[i] !== VOID_INDEX, width, height);
  const d2 = d * d;
  for (let i = 0; i < labels.length; i++) if (labels[i] === cls && dist[i] <= d2) out[i] = 1;
  return out;
}

export interface BandCounts {
  intersection: number;
  union: number;
}

/** Boundary IoU counts of class `cls` with band width `d` pixels (IoU = intersection / union). */
export function boundaryIoUCounts(truth: Uint8Array, pred: Uint8Array, width: number, height: number, cls: number, d: number): BandCounts {
  const gt = innerBand(truth, width, height, cls, d);
  const pr = innerBand(pred, width, height, cls, d);
  let intersection = 0;
  let union = 0;
  for (let i = 0; i < gt.length; i++) {
    if (truth[i] === VOID_INDEX) continue;
    if (gt[i] && pr[i]) intersection++;
    if (gt[i] || pr[i]) union++;
  }
  return { intersection, union };
}

/** Predicted frontier pixels, and those of them lying where the labels are void (the gap). */
export function frontierInGap(labels: Uint8Array, pred: Uint8Array, width: number, height: number): { inGap: number; total: number } {
  const f = frontierPixels(pred, width, height);
  let inGap = 0;
  let total = 0;
  for (let i = 0; i < f.length; i++) {
    if (!f[i]) continue;
    total++;
    if (labels[i] === VOID_INDEX) inGap++;
  }
  return { inGap, total };
}

/** Pixels whose label value (as written to a mask) is one of the void values. */
export function countVoidValues(values: ArrayLike<number>, voidValues: readonly number[]): number {
  if (voidValues.length === 0) return 0;
  const isVoid = new Set(voidValues);
  let n = 0;
  for (let i = 0; i < values.length; i++) if (isVoid.has(values[i])) n++;
  return n;
}
