/**
 * Where live training looks: crops of the images' cached features, centred on labelled pixels
 * with every labelled class equally likely (strokes are few and uneven: a long background
 * stroke must not drown a small object's), aligned to the stride of the coarsest feature map
 * they cut, so that each crop is an exact window of every map. Labels near a crop's edge inside
 * the image are left out: there the network sees the crop's zero padding, not the image, and
 * could learn where in a crop a class lies instead of what it looks like. Pure: no tensors.
 */
import { VOID_INDEX } from '../data/labelIndices.js';
import { randInt, type Rng } from '../util/random.js';

/** The stride of the coarsest map crops cut: they start and end on its multiples; images are padded to them. */
export const CROP_ALIGN = 8;

/** Labels this close to a crop's edge inside the image do not count. */
export const CROP_BORDER = 8;

/** A labelled image at the live network's size (sides multiples of CROP_ALIGN). */
export interface LabelledImage {
  width: number;
  height: number;
  /** Class index per pixel, VOID_INDEX where unlabelled. */
  labels: Uint8Array;
  /** Labelled pixels per class. */
  counts: number[];
}

/** A crop: the image it comes from and its top-left corner (multiples of CROP_ALIGN). */
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

/** The side of square crops every image can hold: `side` at most, a multiple of the alignment. */
export function cropSide(images: readonly LabelledImage[], side: number): number {
  const fit = Math.min(side, ...images.map((im) => Math.min(im.width, im.height)));
  return Math.max(CROP_ALIGN, Math.floor(fit / CROP_ALIGN) * CROP_ALIGN);
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
    const place = (p: number, size: number) => Math.min(size - side, Math.max(0, Math.round((p - side / 2) / CROP_ALIGN) * CROP_ALIGN));
    crops.push({ image, x: place(i % im.width, im.width), y: place(Math.floor(i / im.width), im.height) });
  }
  return crops;
}

/**
 * The crops' labels as one batch [n, side, side] (void within CROP_BORDER of an edge inside the
 * image), and class weights that give every class
 * present in it the same total weight (capped, so a few stray pixels cannot dominate).
 */
export function cropLabels(
  images: readonly LabelledImage[],
  crops: readonly Crop[],
  side: number,
  k: number,
): { labels: Uint8Array; weights: number[] } {
  const labels = new Uint8Array(crops.length * side * side);
  labels.fill(VOID_INDEX);
  crops.forEach((cr, j) => {
    const im = images[cr.image];
    // Edges inside the image lose a border; edges on the image's own keep it (prediction pads there too).
    const x0 = cr.x > 0 ? CROP_BORDER : 0;
    const x1 = cr.x + side < im.width ? side - CROP_BORDER : side;
    const y0 = cr.y > 0 ? CROP_BORDER : 0;
    const y1 = cr.y + side < im.height ? side - CROP_BORDER : side;
    for (let y = y0; y < y1; y++) {
      const from = (cr.y + y) * im.width + cr.x;
      labels.set(im.labels.subarray(from + x0, from + x1), (j * side + y) * side + x0);
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
