/**
 * Where live training looks: crops of the images' cached encoder features, centred on labelled
 * pixels with every labelled class equally likely (strokes are few and uneven: a long
 * background stroke must not drown a small object's), aligned to the encoder's largest stride
 * so that each crop is an exact window of every feature map. Pure: no tensors.
 */
import { VOID_INDEX } from '../data/labelIndices.js';
import { randInt, type Rng } from '../util/random.js';

/** The encoder's largest stride: crops start and end on its multiples. */
export const FEATURE_STRIDE = 32;

/** A labelled image at the live network's size (sides multiples of FEATURE_STRIDE). */
export interface LabelledImage {
  width: number;
  height: number;
  /** Class index per pixel, VOID_INDEX where unlabelled. */
  labels: Uint8Array;
  /** Labelled pixels per class. */
  counts: number[];
}

/** A crop: the image it comes from and its top-left corner (multiples of FEATURE_STRIDE). */
export interface Crop {
  image: number;
  x: number;
  y: number;
}

/** Labelled pixels per class of a label map. */
export function classCountsOf(labels: Uint8Array, k: number): number[] {
  const counts = new Array<number>(k).fill(0);
  for (const c of labels) if (c !== VOID_INDEX && c < k) counts[c]++;
  return counts;
}

/** The side of square crops every image can hold: `side` at most, a multiple of the stride. */
export function cropSide(images: readonly LabelledImage[], side: number): number {
  const fit = Math.min(side, ...images.map((im) => Math.min(im.width, im.height)));
  return Math.max(FEATURE_STRIDE, Math.floor(fit / FEATURE_STRIDE) * FEATURE_STRIDE);
}

/** The index of the r-th pixel (from 0) of class c in a label map. */
function nthOf(labels: Uint8Array, c: number, r: number): number {
  for (let i = 0; i < labels.length; i++) if (labels[i] === c && r-- === 0) return i;
  throw new Error(`nthOf: class ${c} has fewer pixels than asked`);
}

/**
 * n crops of `side`: each picks a class among those labelled anywhere, then one of its pixels
 * over all images (images weighted by how many they hold), and centres the crop on it as
 * nearly as the alignment allows. Empty where nothing is labelled.
 */
export function sampleCrops(images: readonly LabelledImage[], k: number, n: number, side: number, rng: Rng): Crop[] {
  const present = [...Array(k).keys()].filter((c) => images.some((im) => im.counts[c] > 0));
  if (present.length === 0) return [];
  const crops: Crop[] = [];
  for (let j = 0; j < n; j++) {
    const c = present[randInt(rng, 0, present.length)];
    const total = images.reduce((a, im) => a + im.counts[c], 0);
    let r = randInt(rng, 0, total);
    let image = 0;
    while (r >= images[image].counts[c]) r -= images[image++].counts[c];
    const im = images[image];
    const i = nthOf(im.labels, c, r);
    const place = (p: number, size: number) =>
      Math.min(size - side, Math.max(0, Math.round((p - side / 2) / FEATURE_STRIDE) * FEATURE_STRIDE));
    crops.push({ image, x: place(i % im.width, im.width), y: place(Math.floor(i / im.width), im.height) });
  }
  return crops;
}

/**
 * The crops' labels as one batch [n, side, side], and class weights that give every class
 * present in it the same total weight (capped, so a few stray pixels cannot dominate).
 */
export function cropLabels(
  images: readonly LabelledImage[],
  crops: readonly Crop[],
  side: number,
  k: number,
): { labels: Uint8Array; weights: number[] } {
  const labels = new Uint8Array(crops.length * side * side);
  crops.forEach((cr, j) => {
    const im = images[cr.image];
    for (let y = 0; y < side; y++) {
      const from = (cr.y + y) * im.width + cr.x;
      labels.set(im.labels.subarray(from, from + side), (j * side + y) * side);
    }
  });
  const counts = classCountsOf(labels, k);
  const present = counts.filter((x) => x > 0);
  const labelled = present.reduce((a, b) => a + b, 0);
  const weights = counts.map((x) => (x > 0 ? Math.min(MAX_WEIGHT, labelled / (present.length * x)) : 0));
  return { labels, weights };
}

/** The largest class weight of a batch. */
const MAX_WEIGHT = 10;
