/**
 * Loading image/label pairs into memory at the training scale: decode, check sizes and
 * label values, map labels to class indices, make gaps if asked. Decoding runs a few files
 * at a time (sharp works off the main thread).
 */
import { GapsegError } from '../util/errors.js';
import { settleAll } from '../util/settle.js';
import { encodeLabels, labelMap, VOID_INDEX, type ClassDescription } from './classes.js';
import { readImage, readLabel, type DecodeLimits } from './decode.js';
import { makeGap } from './gaps.js';
import { stringHash } from '../util/random.js';
import { resizeImage, resizeNearest, scaledSize } from './resize.js';
import type { PairFiles } from './dataset.js';

/** One training/evaluation example in memory, at the training scale. */
export interface Sample {
  name: string;
  width: number;
  height: number;
  /** RGB, 3 bytes per pixel. */
  image: Uint8Array;
  /** Class index per pixel, VOID_INDEX where unlabelled. */
  labels: Uint8Array;
  /** Full gap-free class indices, when known (truth folder, or the masks gaps were made from). */
  truth?: Uint8Array;
  /** Size of the original files, before scaling. */
  originalWidth: number;
  originalHeight: number;
}

export interface LoadOptions {
  classes: ClassDescription;
  /** Resize factor applied to every pair (0.5 halves each side). */
  scale: number;
  /** Erode every class by this many pixels (at the training scale) and mark the band void. */
  makeGap?: number;
  /** How uneven made gaps are, 0 (symmetric) to 1 (see data/gaps.ts); drawn per image from its name. */
  gapUneven?: number;
  limits?: DecodeLimits;
  concurrency?: number;
  onLoaded?: (done: number, total: number) => void;
}

async function loadPair(p: PairFiles, table: Int16Array, opts: LoadOptions): Promise<Sample> {
  // All three read, then the first problem in this order: the image's before its label's.
  const [img, lab, tru] = await settleAll([
    readImage(p.image, opts.limits),
    readLabel(p.label, opts.limits),
    p.truth ? readLabel(p.truth, opts.limits) : Promise.resolve(undefined),
  ]);
  if (img.width !== lab.width || img.height !== lab.height) {
    throw new GapsegError(`${p.label}: label is ${lab.width}x${lab.height} but its image ${p.image} is ${img.width}x${img.height}`);
  }
  if (tru && (tru.width !== img.width || tru.height !== img.height)) {
    throw new GapsegError(`${p.truth}: full mask is ${tru.width}x${tru.height} but its image ${p.image} is ${img.width}x${img.height}`);
  }
  let labels = encodeLabels(lab.values, lab.width, table, p.label);
  let truth = tru ? encodeLabels(tru.values, tru.width, table, p.truth as string) : undefined;
  const [w, h] = scaledSize(img.width, img.height, opts.scale);
  const image = resizeImage(img.data, img.width, img.height, 3, w, h);
  labels = resizeNearest(labels, img.width, img.height, w, h);
  if (truth) truth = resizeNearest(truth, img.width, img.height, w, h);
  if (opts.makeGap && opts.makeGap > 0) {
    truth = truth ?? labels;
    labels = makeGap(labels, w, h, opts.makeGap, opts.gapUneven ?? 0, stringHash(p.name));
  }
  return { name: p.name, width: w, height: h, image, labels, truth, originalWidth: img.width, originalHeight: img.height };
}

/**
 * Load pairs, a few at a time. Fails on the first bad pair in list order, naming its file,
 * whatever the timing: after a failure no new pair starts, the ones in flight (all earlier in
 * the list) end, and the lowest-numbered failure is thrown.
 */
export async function loadSamples(pairs: PairFiles[], opts: LoadOptions): Promise<Sample[]> {
  const table = labelMap(opts.classes);
  const out: Sample[] = new Array(pairs.length);
  const failures: { index: number; error: unknown }[] = [];
  let next = 0;
  let done = 0;
  const workers = Array.from({ length: Math.min(opts.concurrency ?? 4, pairs.length) }, async () => {
    while (next < pairs.length && failures.length === 0) {
      const i = next++;
      try {
        out[i] = await loadPair(pairs[i], table, opts);
      } catch (error) {
        failures.push({ index: i, error });
        return;
      }
      done++;
      opts.onLoaded?.(done, pairs.length);
    }
  });
  await Promise.all(workers);
  if (failures.length) throw failures.reduce((a, b) => (b.index < a.index ? b : a)).error;
  return out;
}

/** Count labelled pixels per class over samples (index K = void). */
export function classCounts(samples: Sample[], numClasses: number): number[] {
  const counts = new Array(numClasses + 1).fill(0);
  for (const s of samples) for (const v of s.labels) counts[v === VOID_INDEX ? numClasses : v]++;
  return counts;
}

/** Refuse a set of samples in which nobody labelled anything. */
export function assertSomeLabelled(samples: Sample[], where: string): void {
  for (const s of samples) for (const v of s.labels) if (v !== VOID_INDEX) return;
  throw new GapsegError(`${where}: every pixel of every label mask is void; there is nothing to learn from`);
}

/** Per-channel mean and standard deviation of the images, on the 0..1 scale. */
export function channelStats(samples: Sample[]): { mean: [number, number, number]; std: [number, number, number] } {
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  let n = 0;
  for (const s of samples) {
    const d = s.image;
    for (let i = 0; i < d.length; i += 3) {
      for (let c = 0; c < 3; c++) {
        const v = d[i + c] / 255;
        sum[c] += v;
        sq[c] += v * v;
      }
    }
    n += d.length / 3;
  }
  const mean = sum.map((x) => x / Math.max(n, 1)) as [number, number, number];
  const std = sq.map((x, c) => Math.max(Math.sqrt(Math.max(x / Math.max(n, 1) - mean[c] * mean[c], 0)), 1e-3)) as [number, number, number];
  return { mean, std };
}
