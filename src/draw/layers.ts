/**
 * Pixel layers for showing segmentations: class colours, hatched void, probability heat,
 * and class decisions from probabilities with forbidden classes and a threshold.
 * Browser-safe: the viewer page loads this very module (served from the compiled tree), and
 * it imports only browser-safe modules. Layers are RGBA bytes, drawn over the image with the
 * viewer's opacity.
 */
import { VOID_INDEX } from '../data/labelIndices.js';
import { argmaxAllowed, planesOf } from '../predict/forbid.js';
import { addImage, emptyTotals, report } from '../metrics/evaluate.js';

/** Class index of a void (unlabelled) pixel in class-index arrays. */
export const VOID = VOID_INDEX;

export type Rgb = readonly [number, number, number];

/** How predicted classes are decided from probabilities. */
export interface Decision {
  /** allowed[c] is false for a forbidden class: it is never predicted. */
  allowed: readonly boolean[];
  /**
   * Threshold on the focus class's probability (renormalised over allowed classes), or null
   * for a plain argmax. With two classes, 0.5 is the argmax.
   */
  threshold: number | null;
  /** The class the threshold applies to (and the heat map shows). */
  focus: number;
}

/** Plain argmax over every class, focused on the last one. */
export function argmaxDecision(numClasses: number): Decision {
  return { allowed: new Array(numClasses).fill(true), threshold: null, focus: numClasses - 1 };
}

/** Focus-class probability renormalised over the allowed classes, per pixel. */
export function focusProbability(probs: Float32Array, n: number, k: number, d: Decision): Float32Array {
  const out = new Float32Array(n);
  if (!d.allowed[d.focus]) return out;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < k; c++) if (d.allowed[c]) s += probs[i * k + c];
    out[i] = s > 0 ? probs[i * k + d.focus] / s : 0;
  }
  return out;
}

/**
 * Class per pixel: the focus class where its renormalised probability reaches the threshold,
 * else the most probable other allowed class (prediction's argmax over allowed classes).
 * Never a forbidden class, never VOID.
 */
export function decideClasses(probs: Float32Array, n: number, k: number, d: Decision): Uint8Array {
  const allowed = [...Array(k).keys()].filter((c) => d.allowed[c]);
  if (allowed.length === 0) throw new Error('every class is forbidden; allow at least one');
  const planes = planesOf(probs, n, k);
  const useThreshold = d.threshold !== null && d.allowed[d.focus] && allowed.length > 1;
  if (!useThreshold) return argmaxAllowed(planes, allowed, n);
  const out = argmaxAllowed(
    planes,
    allowed.filter((c) => c !== d.focus),
    n,
  );
  const q = focusProbability(probs, n, k, d);
  for (let i = 0; i < n; i++) if (q[i] >= (d.threshold as number)) out[i] = d.focus;
  return out;
}

/** Whether a class colour is black: such classes are drawn untinted over images. */
export function isBlack(c: Rgb): boolean {
  return c[0] + c[1] + c[2] === 0;
}

/**
 * Colours for painted labels: a class coloured black (untinted in predictions, as background
 * usually is) is drawn white, so that its strokes show.
 */
export function labelColors(colors: readonly Rgb[]): Rgb[] {
  return colors.map((c) => (isBlack(c) ? [255, 255, 255] : c));
}

/** A rectangle of pixels. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Class colours as RGBA; void and classes coloured black stay transparent (as in gapseg's overlays). */
export function classLayer(classes: Uint8Array, colors: readonly Rgb[]): Uint8ClampedArray {
  return classLayerRect(classes, classes.length, { x: 0, y: 0, w: classes.length, h: 1 }, colors);
}

/** classLayer of one rectangle of a class map `width` pixels wide (the painter redraws only what a stroke changed). */
export function classLayerRect(classes: Uint8Array, width: number, r: Rect, colors: readonly Rgb[]): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(r.w * r.h * 4);
  for (let y = 0; y < r.h; y++) {
    for (let x = 0, i = (r.y + y) * width + r.x, o = y * r.w * 4; x < r.w; x++, i++, o += 4) {
      const c = classes[i];
      if (c === VOID || c >= colors.length) continue;
      const col = colors[c];
      if (isBlack(col)) continue;
      out[o] = col[0];
      out[o + 1] = col[1];
      out[o + 2] = col[2];
      out[o + 3] = 255;
    }
  }
  return out;
}

/** Void pixels hatched: diagonal stripes of `stripe` over dimmed pixels, so a gap never looks like a class. */
export function voidLayer(labels: Uint8Array, width: number, stripe: Rgb = [255, 230, 0], period = 6): Uint8ClampedArray {
  return voidLayerRect(labels, width, { x: 0, y: 0, w: width, h: labels.length / width }, stripe, period);
}

/** voidLayer of one rectangle (the stripes stay where they are on the whole image). */
export function voidLayerRect(
  labels: Uint8Array,
  width: number,
  r: Rect,
  stripe: Rgb = [255, 230, 0],
  period = 6,
): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(r.w * r.h * 4);
  for (let y = r.y; y < r.y + r.h; y++) {
    for (let x = r.x, i = y * width + r.x, o = (y - r.y) * r.w * 4; x < r.x + r.w; x++, i++, o += 4) {
      if (labels[i] !== VOID) continue;
      const on = (x + y) % period < period / 2;
      out[o] = on ? stripe[0] : 20;
      out[o + 1] = on ? stripe[1] : 20;
      out[o + 2] = on ? stripe[2] : 20;
      out[o + 3] = on ? 255 : 170;
    }
  }
  return out;
}

// A perceptual dark-blue -> teal -> yellow ramp (viridis control points).
const HEAT: Rgb[] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** Colour of a probability on the heat ramp. */
export function heatColor(p: number): Rgb {
  const t = Math.min(Math.max(p, 0), 1) * (HEAT.length - 1);
  const i = Math.min(Math.floor(t), HEAT.length - 2);
  const f = t - i;
  const a = HEAT[i];
  const b = HEAT[i + 1];
  return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
}

/** Probability (0..1 per pixel) as an opaque heat map. */
export function heatLayer(p: Float32Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(p.length * 4);
  for (let i = 0; i < p.length; i++) {
    const c = heatColor(p[i]);
    out[i * 4] = c[0];
    out[i * 4 + 1] = c[1];
    out[i * 4 + 2] = c[2];
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** Blend RGBA layers over an RGB image (3 bytes per pixel); alpha scaled by `opacity`. */
export function composite(rgb: Uint8Array, layers: { data: Uint8ClampedArray; opacity: number }[]): Uint8Array {
  const out = new Uint8Array(rgb);
  const n = rgb.length / 3;
  for (const { data, opacity } of layers) {
    for (let i = 0; i < n; i++) {
      const a = (data[i * 4 + 3] / 255) * opacity;
      if (a === 0) continue;
      for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(out[i * 3 + c] * (1 - a) + data[i * 4 + c] * a);
    }
  }
  return out;
}

/** Per-image metrics over labelled pixels (void never counts), and inside the gap when a full truth exists. */
export interface ImageMetrics {
  /** Labelled pixels. */
  labelled: number;
  accuracy: number;
  /** Mean IoU over classes present in the labels or the prediction. */
  meanIoU: number;
  iou: number[];
  gapAccuracy: number | null;
}

/** How close the two most probable allowed classes may be for a pixel to count as unsure. */
export const UNSURE_MARGIN = 0.5;

/**
 * Pixels where the model is unsure: its two most probable allowed classes (renormalised over
 * the allowed ones) within `margin` of each other; with two classes, the top one below 0.75.
 * Labelling time goes furthest there.
 */
export function unsurePixels(probs: Float32Array, n: number, k: number, allowed: readonly boolean[], margin = UNSURE_MARGIN): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    let p1 = 0;
    let p2 = 0;
    for (let c = 0; c < k; c++) {
      if (!allowed[c]) continue;
      const p = probs[i * k + c];
      sum += p;
      if (p > p1) {
        p2 = p1;
        p1 = p;
      } else if (p > p2) p2 = p;
    }
    out[i] = sum > 0 && (p1 - p2) / sum < margin ? 1 : 0;
  }
  return out;
}

/** The unsure pixels in magenta, the rest transparent. */
export function unsureLayer(mask: Uint8Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(mask.length * 4);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    out.set([255, 0, 200, 255], i * 4);
  }
  return out;
}

/** Share of ones in a mask. */
export function share(mask: Uint8Array): number {
  let s = 0;
  for (const v of mask) s += v;
  return mask.length ? s / mask.length : 0;
}

/** Metrics of one image, as eval computes them (metrics/): labels may hold VOID; pred must not. */
export function imageMetrics(labels: Uint8Array, pred: Uint8Array, k: number, truth?: Uint8Array): ImageMetrics {
  const totals = emptyTotals(k);
  addImage(totals, labels, pred, truth);
  const r = report(totals);
  return { labelled: r.pixels, accuracy: r.pixelAccuracy, meanIoU: r.meanIoU, iou: r.iou, gapAccuracy: r.gapAccuracy };
}
