/**
 * From an RGB image to per-pixel class scores and labels at the image's own size:
 * resize to the training scale, normalise, run (tiled if large), resize the logits back,
 * softmax, and argmax over the allowed classes.
 */
import { resizeFloat, resizeImage } from '../data/resize.js';
import { normalizeInto } from '../data/augment.js';
import { scaledSize } from '../data/load.js';
import type { RgbImage } from '../data/decode.js';
import type { InputRecipe } from '../model/modelFiles.js';
import { logitsForImage, softmaxInPlace, type LogitsFn } from './tiling.js';
import { maskedArgmax } from './forbid.js';

export interface Prediction {
  width: number;
  height: number;
  numClasses: number;
  /** HWC class probabilities at the input's size. */
  probs: Float32Array;
  /** Class index per pixel, argmax over allowed classes. */
  classes: Uint8Array;
}

export interface PredictOptions {
  recipe: InputRecipe;
  numClasses: number;
  /** Network stride: input sides are padded to multiples of it. */
  multiple: number;
  allowed: number[];
  overlap?: number;
  batch?: number;
}

/** Normalised HWC float input for an image at the training scale. */
export function networkInput(img: RgbImage, recipe: InputRecipe): { data: Float32Array; width: number; height: number } {
  const [w, h] = scaledSize(img.width, img.height, recipe.scale);
  const rgb = resizeImage(img.data, img.width, img.height, 3, w, h);
  const data = new Float32Array(w * h * 3);
  normalizeInto(data, 0, rgb, recipe.mean, recipe.std);
  return { data, width: w, height: h };
}

/** Predict one image at its own size. */
export async function predictImage(img: RgbImage, run: LogitsFn, opts: PredictOptions): Promise<Prediction> {
  const k = opts.numClasses;
  const x = networkInput(img, opts.recipe);
  const logits = await logitsForImage(x.data, x.width, x.height, 3, k, run, {
    tile: opts.recipe.tile,
    overlap: opts.overlap ?? Math.round(opts.recipe.tile / 8),
    multiple: opts.multiple,
    batch: opts.batch ?? 4,
  });
  const full = resizeFloat(logits, x.width, x.height, k, img.width, img.height);
  const probs = softmaxInPlace(full === logits ? logits : full, k);
  const classes = maskedArgmax(probs, img.width * img.height, k, opts.allowed, 'nhwc');
  return { width: img.width, height: img.height, numClasses: k, probs, classes };
}
