/**
 * Class weights that balance rare classes: median frequency balancing (Eigen and Fergus 2015,
 * as SegNet trains CamVid). A class's frequency is its pixels over the pixels of the images it
 * appears in; its weight is the median of those frequencies over its own, so a class of median
 * frequency weighs 1 and a rarer one more. Void pixels count for nothing.
 */
import { VOID_INDEX } from './labelIndices.js';

/** Per class, its labelled pixels and the labelled pixels of the images where it appears. */
export interface ClassCounts {
  pixels: number[];
  imagePixels: number[];
}

/** Start counting k classes. */
export function emptyClassCounts(k: number): ClassCounts {
  return { pixels: new Array(k).fill(0), imagePixels: new Array(k).fill(0) };
}

/** Add one label map (class indices, VOID_INDEX for void) to the counts. */
export function addClassCounts(counts: ClassCounts, labels: Uint8Array): void {
  const k = counts.pixels.length;
  const here = new Array(k).fill(0);
  let labelled = 0;
  for (const c of labels) {
    if (c === VOID_INDEX || c >= k) continue;
    here[c]++;
    labelled++;
  }
  for (let c = 0; c < k; c++) {
    if (here[c] === 0) continue;
    counts.pixels[c] += here[c];
    counts.imagePixels[c] += labelled;
  }
}

/** Median frequency weights; a class with no pixel weighs 1 (it adds nothing to the loss anyway). */
export function medianFrequencyWeights(counts: ClassCounts): number[] {
  const freq = counts.pixels.map((n, c) => (n > 0 ? n / counts.imagePixels[c] : NaN));
  const seen = freq.filter((f) => !Number.isNaN(f)).sort((a, b) => a - b);
  if (seen.length === 0) return freq.map(() => 1);
  const mid = seen.length % 2 ? seen[(seen.length - 1) / 2] : (seen[seen.length / 2 - 1] + seen[seen.length / 2]) / 2;
  return freq.map((f) => (Number.isNaN(f) ? 1 : mid / f));
}

/**
 * The class weights a run with three or more classes trains with when none are given: the square
 * roots of the median frequency weights. Full median frequency weights found every rare class of
 * a street scene but lost much of the common classes' accuracy; their square roots found more
 * than equal weights without that loss (docs/experiments.md, class balance). Two classes keep
 * equal weights: class-balanced crops already balance them, and a weight moves their frontier.
 */
export function defaultClassWeights(labels: Iterable<Uint8Array>, k: number): number[] | null {
  if (k < 3) return null;
  const counts = emptyClassCounts(k);
  for (const l of labels) addClassCounts(counts, l);
  return medianFrequencyWeights(counts).map(Math.sqrt);
}
