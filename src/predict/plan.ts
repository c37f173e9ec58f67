/**
 * How an image becomes network windows. An input plan says how images are scaled and cut;
 * the geometry of one image lists its windows (tiles) at the network's scale. One window
 * that covers the whole image is the untiled case; the same code handles both, so a tiled
 * prediction differs from an untiled one only by the blending of overlaps.
 *
 * Three ways to size the input:
 * - scale (gapseg models): resize by `scale`, pad sides to multiples of `multiple`, tile
 *   when a side exceeds `tile`;
 * - fixed size, resized: the image is resized to `size` (aspect not kept), as many
 *   fixed-size models were trained;
 * - fixed size, padded: the image is kept at `scale`; smaller images are padded to `size`,
 *   larger ones tiled with `size` windows, so nothing is distorted.
 */
import { scaledSize } from '../data/resize.js';

export interface InputPlan {
  /** Resize factor from the image to the network's scale (unless resized to `size`). */
  scale: number;
  /** Fixed network input [width, height], if the model needs one. */
  size?: [number, number];
  /** With a fixed size: pad (and tile) instead of resizing. */
  pad: boolean;
  /** Largest side predicted in one window when the size is free. */
  tile: number;
  /** The network's receptive radius in pixels (Infinity when unknown). */
  radius: number;
  /**
   * Pixels next to a window edge that lies inside the image whose scores are not used
   * (weight 0): they lack context. With a margin at least the receptive radius, every score
   * used is exactly what the untiled network computes. Default: see tileBlending.
   */
  margin?: number;
  /** Length of the linear cross-fade between neighbouring windows, past the margins. */
  ramp?: number;
  /** Free-size windows have sides (and positions) that are multiples of this (the network's stride). */
  multiple: number;
  /** Per-channel mean and std on the 0..1 scale. */
  mean: number[];
  std: number[];
}

/** Windows of one image at the network's scale. */
export interface Geometry {
  /** The image at the network's scale (nw x nh); windows cover it. */
  nw: number;
  nh: number;
  /** Window size. */
  tw: number;
  th: number;
  xs: number[];
  ys: number[];
  /** Extent of the canvas the windows tile (the image padded to the stride). */
  cw: number;
  ch: number;
  margin: number;
  ramp: number;
}

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/**
 * Receptive radius of a gapseg U-Net of this depth, in input pixels: per level two 3x3
 * convolutions going down and two coming up (2 * 2^i each), the 2x2 pooling (2^i), and two
 * convolutions at the bottleneck (2 * 2^depth): 7 * 2^depth - 5.
 */
export function unetReceptiveRadius(depth: number): number {
  return 7 * 2 ** depth - 5;
}

/**
 * Margin and ramp of windows of side `tile` for a network of receptive radius `radius`: the
 * margin is the radius (exact tiling) but at most tile/8, so windows keep most of their area;
 * the cross-fade is tile/16. Both are multiples of `multiple`, so windows stay on the pooling grid.
 */
export function tileBlending(tile: number, radius: number, multiple: number): { margin: number; ramp: number } {
  const margin = Math.min(roundUp(Math.min(radius, tile / 8), multiple), Math.floor(tile / 8 / multiple) * multiple);
  const ramp = Math.max(multiple, roundUp(Math.floor(tile / 16), multiple));
  return { margin, ramp };
}

/** The windows for an image of width x height under a plan. */
export function imageGeometry(width: number, height: number, plan: InputPlan): Geometry {
  if (plan.size && !plan.pad) {
    const [tw, th] = plan.size;
    return { nw: tw, nh: th, tw, th, xs: [0], ys: [0], cw: tw, ch: th, margin: 0, ramp: 0 };
  }
  const [nw, nh] = scaledSize(width, height, plan.scale);
  let tw: number;
  let th: number;
  let cw: number;
  let ch: number;
  if (plan.size) {
    [tw, th] = plan.size;
    [cw, ch] = [Math.max(nw, tw), Math.max(nh, th)];
  } else {
    const tile = roundUp(plan.tile, plan.multiple);
    [cw, ch] = [roundUp(nw, plan.multiple), roundUp(nh, plan.multiple)];
    tw = Math.min(tile, cw);
    th = Math.min(tile, ch);
  }
  const m = plan.size ? 1 : plan.multiple;
  const auto = tileBlending(Math.min(tw, th), plan.radius, m);
  let margin = plan.margin ?? auto.margin;
  let ramp = plan.ramp ?? auto.ramp;
  // Neighbours overlap by two margins and the ramp, and must still advance by a stride.
  const side = Math.min(tw, th);
  if (2 * margin + ramp > side - m) {
    ramp = m;
    margin = Math.max(0, Math.floor((side - 2 * m) / (2 * m)) * m);
  }
  const overlap = 2 * margin + ramp;
  return { nw, nh, tw, th, xs: tileStarts(cw, tw, overlap), ys: tileStarts(ch, th, overlap), cw, ch, margin, ramp };
}

function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = ((i % period) + period) % period;
  if (m >= n) m = period - m;
  return m;
}

/**
 * Write the window [x0, x0+tw) x [y0, y0+th) of an RGB byte image (w x h) as normalised
 * planar CHW floats at dst[offset...], reflecting at the image's borders.
 */
export function fillWindow(
  rgb: Uint8Array,
  w: number,
  h: number,
  x0: number,
  y0: number,
  tw: number,
  th: number,
  plan: InputPlan,
  dst: Float32Array,
  offset: number,
): void {
  const plane = tw * th;
  const scale = [0, 1, 2].map((c) => 1 / (255 * plan.std[c]));
  const shift = [0, 1, 2].map((c) => plan.mean[c] / plan.std[c]);
  if (x0 >= 0 && y0 >= 0 && x0 + tw <= w && y0 + th <= h) {
    // Inside the image (the common case): no reflection, one pass per channel plane.
    for (let c = 0; c < 3; c++) {
      const s = scale[c];
      const t = shift[c];
      const o = offset + c * plane;
      for (let y = 0; y < th; y++) {
        let src = ((y0 + y) * w + x0) * 3 + c;
        const d = o + y * tw;
        for (let x = 0; x < tw; x++, src += 3) dst[d + x] = rgb[src] * s - t;
      }
    }
    return;
  }
  // Column indices are the same for every row; reflect them once.
  const cols = new Int32Array(tw);
  for (let x = 0; x < tw; x++) cols[x] = reflectIndex(x0 + x, w) * 3;
  for (let y = 0; y < th; y++) {
    const row = reflectIndex(y0 + y, h) * w * 3;
    const d = offset + y * tw;
    for (let c = 0; c < 3; c++) {
      const s = scale[c];
      const t = shift[c];
      const o = d + c * plane;
      for (let x = 0; x < tw; x++) dst[o + x] = rgb[row + cols[x] + c] * s - t;
    }
  }
}

/**
 * Blending weight of each position along one axis of a window at `start` (length `len`) on
 * a canvas of length `total`: 0 within `margin` of a window edge that lies inside the canvas,
 * then rising linearly over `ramp` pixels to 1. Between two neighbours, which overlap by
 * 2 * margin + ramp, the two weights sum to 1.
 */
export function rampWeights(start: number, len: number, total: number, margin: number, ramp: number): Float32Array {
  const w = new Float32Array(len);
  const inner = (d: number) => Math.min(1, Math.max(0, (d - margin + 0.5) / ramp));
  for (let p = 0; p < len; p++) {
    let v = 1;
    if (start > 0) v = Math.min(v, inner(p));
    if (start + len < total) v = Math.min(v, inner(len - 1 - p));
    w[p] = v;
  }
  return w;
}

/**
 * Sum of blending weights at each of the first `n` positions of an axis. The weight of a
 * window at a pixel is the product of its two axis weights and the windows form a grid, so
 * the total weight at (x, y) is sumX[x] * sumY[y]: no per-pixel weight image is needed.
 */
export function axisWeightSums(starts: number[], len: number, total: number, n: number, margin: number, ramp: number): Float32Array {
  const sum = new Float32Array(n);
  for (const s of starts) {
    const w = rampWeights(s, len, total, margin, ramp);
    for (let p = 0; p < len && s + p < n; p++) sum[s + p] += w[p];
  }
  return sum;
}

/** The input plan of a gapseg model's recipe: scale, pad to the stride, tile when large. */
export function recipePlan(
  recipe: { scale: number; tile: number; mean: number[]; std: number[] },
  multiple: number,
  radius = unetReceptiveRadius(Math.log2(multiple)),
): InputPlan {
  return { scale: recipe.scale, pad: false, tile: recipe.tile, radius, multiple, mean: recipe.mean, std: recipe.std };
}

/** Tile start positions along one axis of length n, covering it with overlap. */
export function tileStarts(n: number, tile: number, overlap: number): number[] {
  if (n <= tile) return [0];
  const stride = Math.max(1, tile - overlap);
  const starts: number[] = [];
  for (let s = 0; ; s += stride) {
    if (s + tile >= n) {
      starts.push(n - tile);
      break;
    }
    starts.push(s);
  }
  return starts;
}
