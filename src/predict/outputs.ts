/**
 * What prediction outputs show, as pixels: a label mask in the data set's own label values
 * and a colour overlay on the image (outputFiles.ts writes them).
 */
import type { RgbImage } from '../data/decode.js';
import type { RGB } from '../data/classes.js';

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
