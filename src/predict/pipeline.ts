/**
 * Predicting one in-memory image, through the same windows, blending and result rows as the
 * streaming pipeline of `gapseg predict` (plan.ts, rows.ts): eval, validation, the viewer and
 * the benchmarks therefore see exactly what `predict` writes.
 */
import type { RgbImage } from '../data/decode.js';
import { resizeImage } from '../data/resize.js';
import type { NetFn } from './netFn.js';
import { fillWindow, imageGeometry, type InputPlan } from './plan.js';
import { ResultRows, WindowBlender } from './rows.js';
import { refineDenseCrf, type DenseCrfParams } from '../crf/denseCrf.js';
import { argmaxAllowed, planesOf } from './forbid.js';

export interface Prediction {
  width: number;
  height: number;
  numClasses: number;
  /** HWC class probabilities (over the allowed classes) at the input's size. */
  probs: Float32Array;
  /** Class index per pixel, argmax over allowed classes. */
  classes: Uint8Array;
}

/** What predicting needs of a model: its network, input plan, output kind, batch size and classes. */
export interface PredictModel {
  net: NetFn;
  plan: InputPlan;
  scores: 'logits' | 'probabilities';
  /** Windows per network call. */
  batch: number;
  numClasses: number;
}

/**
 * Predict one image at its own size, with the argmax over `allowed` classes only; with
 * `refine`, the dense CRF's probabilities and their argmax.
 */
export async function predictImage(
  img: RgbImage,
  model: PredictModel,
  allowed: readonly number[],
  refine?: DenseCrfParams | null,
): Promise<Prediction> {
  const k = model.numClasses;
  const geo = imageGeometry(img.width, img.height, model.plan);
  const netRgb = geo.nw === img.width && geo.nh === img.height ? img.data : resizeImage(img.data, img.width, img.height, 3, geo.nw, geo.nh);
  const probs = new Float32Array(img.width * img.height * k);
  const result = new ResultRows({
    width: img.width,
    height: img.height,
    nw: geo.nw,
    nh: geo.nh,
    numClasses: k,
    allowed,
    scores: model.scores,
    probClasses: [],
    probBits: 8,
    probRows: (y, row) => probs.set(row, y * img.width * k),
  });
  const blender = new WindowBlender(geo, k, result);
  const count = geo.xs.length * geo.ys.length;
  const { tw, th } = geo;
  const batch = Math.max(1, model.batch);
  for (let first = 0; first < count; first += batch) {
    const n = Math.min(batch, count - first);
    const input = new Float32Array(n * 3 * tw * th);
    for (let i = 0; i < n; i++) {
      const index = first + i;
      fillWindow(
        netRgb,
        geo.nw,
        geo.nh,
        geo.xs[index % geo.xs.length],
        geo.ys[Math.floor(index / geo.xs.length)],
        tw,
        th,
        model.plan,
        input,
        i * 3 * tw * th,
      );
    }
    const scores = await model.net(input, n, th, tw);
    for (let i = 0; i < n; i++) blender.add(first + i, scores, i * k * tw * th);
  }
  if (!result.complete) throw new Error('predictImage: rows missing after the last window');
  const pred = { width: img.width, height: img.height, numClasses: k, probs, classes: result.classes };
  return refine ? refinePrediction(img, pred, allowed, refine, img.width / geo.nw) : pred;
}

/**
 * A prediction refined by the dense CRF over its image's colours; `scale` is image pixels per
 * network pixel (the kernels' widths are at the network's scale).
 */
export function refinePrediction(
  img: RgbImage,
  pred: Prediction,
  allowed: readonly number[],
  params: DenseCrfParams,
  scale: number,
): Prediction {
  const n = pred.width * pred.height;
  const probs = refineDenseCrf(
    { width: pred.width, height: pred.height, rgb: img.data, probs: pred.probs, numClasses: pred.numClasses },
    allowed,
    params,
    scale,
  );
  return { ...pred, probs, classes: argmaxAllowed(planesOf(probs, n, pred.numClasses), allowed, n) };
}

/** A model view for a bare network function (tests, validation during training). */
export function netModel(net: NetFn, plan: InputPlan, numClasses: number, batch = 4): PredictModel {
  return { net, plan, scores: 'logits', batch, numClasses };
}
