/**
 * Whole-image inference at any size. An image that fits in one tile is padded (by
 * reflection) to a multiple of the network's stride and run once. A larger one is cut into
 * overlapping tiles whose logits are blended with weights that ramp down towards tile edges
 * that lie inside the image, so tile seams do not show and memory stays bounded by the tile.
 */

/** Runs the network on a batch: NHWC normalised input -> NHWC logits (K channels). */
export type LogitsFn = (input: Float32Array, n: number, height: number, width: number) => Promise<Float32Array>;

export interface TileOptions {
  /** Tile side in pixels (at the network's scale). */
  tile: number;
  /** Overlap between neighbouring tiles in pixels. */
  overlap: number;
  /** Input sides must be multiples of this (2^depth for a U-Net). */
  multiple: number;
  /** Tiles run together in one call. */
  batch: number;
}

function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = ((i % period) + period) % period;
  if (m >= n) m = period - m;
  return m;
}

/** Copy the window [x0, x0+tw) x [y0, y0+th) of an HWC image, reflecting outside it. */
export function extractWindow(src: Float32Array, w: number, h: number, c: number, x0: number, y0: number, tw: number, th: number, dst: Float32Array, dstOffset: number): void {
  for (let y = 0; y < th; y++) {
    const sy = reflectIndex(y0 + y, h);
    for (let x = 0; x < tw; x++) {
      const sx = reflectIndex(x0 + x, w);
      const s = (sy * w + sx) * c;
      const d = dstOffset + (y * tw + x) * c;
      for (let k = 0; k < c; k++) dst[d + k] = src[s + k];
    }
  }
}

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
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

/** Blending weight along an axis: ramps over `overlap` pixels at tile edges inside the image. */
function ramp(pos: number, len: number, start: number, total: number, overlap: number): number {
  let w = 1;
  if (start > 0 && overlap > 0) w = Math.min(w, (pos + 0.5) / overlap);
  if (start + len < total && overlap > 0) w = Math.min(w, (len - pos - 0.5) / overlap);
  return Math.max(w, 1e-3);
}

/**
 * Logits for a whole HWC normalised image (w x h x 3) as HWC with K channels, tiling when
 * either side exceeds the tile size.
 */
export async function logitsForImage(input: Float32Array, w: number, h: number, channels: number, numClasses: number, run: LogitsFn, opts: TileOptions): Promise<Float32Array> {
  const k = numClasses;
  if (w <= opts.tile && h <= opts.tile) {
    const pw = roundUp(w, opts.multiple);
    const ph = roundUp(h, opts.multiple);
    let x = input;
    if (pw !== w || ph !== h) {
      x = new Float32Array(pw * ph * channels);
      extractWindow(input, w, h, channels, 0, 0, pw, ph, x, 0);
    }
    const y = await run(x, 1, ph, pw);
    if (pw === w && ph === h) return y;
    const out = new Float32Array(w * h * k);
    for (let r = 0; r < h; r++) out.set(y.subarray(r * pw * k, (r * pw + w) * k), r * w * k);
    return out;
  }
  const tile = roundUp(opts.tile, opts.multiple);
  const overlap = Math.min(opts.overlap, Math.floor(tile / 2));
  const xs = tileStarts(w, tile, overlap);
  const ys = tileStarts(h, tile, overlap);
  const tw = Math.min(tile, roundUp(w, opts.multiple));
  const th = Math.min(tile, roundUp(h, opts.multiple));
  const acc = new Float32Array(w * h * k);
  const wsum = new Float32Array(w * h);
  const positions = ys.flatMap((y0) => xs.map((x0) => [x0, y0] as const));
  for (let b = 0; b < positions.length; b += opts.batch) {
    const group = positions.slice(b, b + opts.batch);
    const batch = new Float32Array(group.length * tw * th * channels);
    group.forEach(([x0, y0], i) => extractWindow(input, w, h, channels, x0, y0, tw, th, batch, i * tw * th * channels));
    const y = await run(batch, group.length, th, tw);
    group.forEach(([x0, y0], i) => {
      const base = i * tw * th * k;
      for (let ty = 0; ty < th && y0 + ty < h; ty++) {
        const wy = ramp(ty, th, y0, h, overlap);
        for (let tx = 0; tx < tw && x0 + tx < w; tx++) {
          const wt = wy * ramp(tx, tw, x0, w, overlap);
          const p = (y0 + ty) * w + x0 + tx;
          const s = base + (ty * tw + tx) * k;
          for (let c = 0; c < k; c++) acc[p * k + c] += wt * y[s + c];
          wsum[p] += wt;
        }
      }
    });
  }
  for (let p = 0; p < w * h; p++) {
    const inv = 1 / wsum[p];
    for (let c = 0; c < k; c++) acc[p * k + c] *= inv;
  }
  return acc;
}

/** In-place softmax over the last axis of HWC scores. */
export function softmaxInPlace(scores: Float32Array, k: number): Float32Array {
  for (let p = 0; p < scores.length; p += k) {
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = Math.max(m, scores[p + c]);
    let s = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp(scores[p + c] - m);
      scores[p + c] = e;
      s += e;
    }
    for (let c = 0; c < k; c++) scores[p + c] /= s;
  }
  return scores;
}
