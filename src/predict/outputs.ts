/**
 * Writing predictions: a label mask in the data set's own label values, a colour overlay
 * on the image, and class-probability maps. Every file is written atomically.
 */
import path from 'node:path';
import { encodePng, type RgbImage } from '../data/decode.js';
import type { RGB } from '../data/classes.js';
import { makeDir, writeFileAtomic } from '../util/atomic.js';
import type { Prediction } from './pipeline.js';

/** What one output channel (class) of a model means on disk. */
export interface OutputClass {
  name: string;
  value: number;
  color: RGB;
}

/** Label values per pixel for predicted class indices (8-bit if every value fits). */
export function labelValues(classes: Uint8Array, outClasses: readonly OutputClass[]): Uint8Array | Uint16Array {
  const wide = outClasses.some((c) => c.value > 255);
  const out = wide ? new Uint16Array(classes.length) : new Uint8Array(classes.length);
  const lut = outClasses.map((c) => c.value);
  for (let i = 0; i < classes.length; i++) out[i] = lut[classes[i]];
  return out;
}

/** The image tinted by class colours (black classes left untinted), RGB bytes. */
export function overlayImage(img: RgbImage, classes: Uint8Array, outClasses: readonly OutputClass[], alpha = 0.45): Uint8Array {
  const out = new Uint8Array(img.data.length);
  // Per class: the kept share of the image and the added share of the colour (+0.5 to round).
  const keep = new Float64Array(outClasses.length);
  const add = new Float64Array(outClasses.length * 3);
  outClasses.forEach((cl, k) => {
    const a = cl.color[0] + cl.color[1] + cl.color[2] > 0 ? alpha : 0;
    keep[k] = 1 - a;
    for (let c = 0; c < 3; c++) add[k * 3 + c] = cl.color[c] * a + 0.5;
  });
  const src = img.data;
  for (let i = 0, j = 0; i < classes.length; i++, j += 3) {
    const k = classes[i];
    const f = keep[k];
    out[j] = src[j] * f + add[k * 3];
    out[j + 1] = src[j + 1] * f + add[k * 3 + 1];
    out[j + 2] = src[j + 2] * f + add[k * 3 + 2];
  }
  return out;
}

/** Probability of class `k` as grey levels (8-bit 0..255 or 16-bit 0..65535). */
export function probabilityMap(pred: Prediction, k: number, bits: 8 | 16): Uint8Array | Uint16Array {
  const n = pred.width * pred.height;
  const out = bits === 16 ? new Uint16Array(n) : new Uint8Array(n);
  const max = bits === 16 ? 65535 : 255;
  for (let i = 0; i < n; i++) out[i] = Math.round(pred.probs[i * pred.numClasses + k] * max);
  return out;
}

export interface WriteOptions {
  outDir: string;
  name: string;
  image: RgbImage;
  pred: Prediction;
  classes: readonly OutputClass[];
  /** Class indices whose probability maps to write (default: class 1 of a two-class model). */
  probClasses?: number[];
  probBits?: 8 | 16;
}

/** Write label, overlay and probability PNGs; returns the paths written. */
export async function writePrediction(o: WriteOptions): Promise<string[]> {
  const { pred } = o;
  const written: string[] = [];
  const put = async (sub: string, file: string, bytes: Uint8Array) => {
    const dir = path.join(o.outDir, sub);
    await makeDir(dir);
    const p = path.join(dir, file);
    await writeFileAtomic(p, bytes);
    written.push(p);
  };
  await put('labels', `${o.name}.png`, await encodePng(labelValues(pred.classes, o.classes), pred.width, pred.height, 1));
  await put('overlays', `${o.name}.png`, await encodePng(overlayImage(o.image, pred.classes, o.classes), pred.width, pred.height, 3));
  const probClasses = o.probClasses ?? (pred.numClasses === 2 ? [1] : []);
  for (const k of probClasses) {
    const sub = probClasses.length === 1 && pred.numClasses === 2 ? 'probs' : `probs-${o.classes[k].name}`;
    await put(sub, `${o.name}.png`, await encodePng(probabilityMap(pred, k, o.probBits ?? 8), pred.width, pred.height, 1));
  }
  return written;
}
