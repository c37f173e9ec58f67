/**
 * Resampling of images (bilinear, area-averaged when shrinking) and of label maps (nearest
 * neighbour, so no label value is ever invented between two classes).
 */

/** Size after scaling, never below one pixel. */
export function scaledSize(w: number, h: number, scale: number): [number, number] {
  return [Math.max(1, Math.round(w * scale)), Math.max(1, Math.round(h * scale))];
}

/** Source positions of a bilinear resize along one axis: for each output index, the two
 * source indices and the weight of the second (pixel centres aligned, edges clamped). */
export interface BilinearAxis {
  i0: Int32Array;
  i1: Int32Array;
  w: Float64Array;
}

/** The bilinear sampling table for resizing an axis of n samples to m. */
export function bilinearAxis(n: number, m: number): BilinearAxis {
  const i0 = new Int32Array(m);
  const i1 = new Int32Array(m);
  const w = new Float64Array(m);
  const step = n / m;
  for (let j = 0; j < m; j++) {
    const f = Math.min(Math.max((j + 0.5) * step - 0.5, 0), n - 1);
    i0[j] = Math.floor(f);
    i1[j] = Math.min(i0[j] + 1, n - 1);
    w[j] = f - i0[j];
  }
  return { i0, i1, w };
}

/** Resize an interleaved 8-bit image with `channels` channels. */
export function resizeImage(src: Uint8Array, w: number, h: number, channels: number, nw: number, nh: number): Uint8Array {
  if (nw === w && nh === h) return src.slice();
  if (w / nw > 1.5 || h / nh > 1.5) return resizeArea(src, w, h, channels, nw, nh);
  return bilinearInto(src, w, h, channels, new Uint8Array(nw * nh * channels), nw, nh, true);
}

/** Bilinear resize of interleaved samples into `out` (nw x nh), rounded to integers when `round`. */
function bilinearInto<T extends Uint8Array | Float32Array>(
  src: ArrayLike<number>,
  w: number,
  h: number,
  channels: number,
  out: T,
  nw: number,
  nh: number,
  round: boolean,
): T {
  const ax = bilinearAxis(w, nw);
  const ay = bilinearAxis(h, nh);
  for (let y = 0; y < nh; y++) {
    const y0 = ay.i0[y];
    const y1 = ay.i1[y];
    const wy = ay.w[y];
    for (let x = 0; x < nw; x++) {
      const wx = ax.w[x];
      const o = (y * nw + x) * channels;
      const a = (y0 * w + ax.i0[x]) * channels;
      const b = (y0 * w + ax.i1[x]) * channels;
      const d = (y1 * w + ax.i0[x]) * channels;
      const e = (y1 * w + ax.i1[x]) * channels;
      for (let c = 0; c < channels; c++) {
        const v = (src[a + c] * (1 - wx) + src[b + c] * wx) * (1 - wy) + (src[d + c] * (1 - wx) + src[e + c] * wx) * wy;
        out[o + c] = round ? Math.round(v) : v;
      }
    }
  }
  return out;
}

/** Area-averaging downscale: each output pixel averages the source box it covers. */
function resizeArea(src: Uint8Array, w: number, h: number, channels: number, nw: number, nh: number): Uint8Array {
  const out = new Uint8Array(nw * nh * channels);
  const acc = new Float64Array(channels);
  for (let y = 0; y < nh; y++) {
    const ya = Math.floor((y * h) / nh);
    const yb = Math.max(ya + 1, Math.floor(((y + 1) * h) / nh));
    for (let x = 0; x < nw; x++) {
      const xa = Math.floor((x * w) / nw);
      const xb = Math.max(xa + 1, Math.floor(((x + 1) * w) / nw));
      acc.fill(0);
      for (let yy = ya; yy < yb; yy++) {
        for (let xx = xa; xx < xb; xx++) {
          const p = (yy * w + xx) * channels;
          for (let c = 0; c < channels; c++) acc[c] += src[p + c];
        }
      }
      const n = (yb - ya) * (xb - xa);
      for (let c = 0; c < channels; c++) out[(y * nw + x) * channels + c] = Math.round(acc[c] / n);
    }
  }
  return out;
}

/** Nearest-neighbour resize of a one-value-per-pixel map (labels, masks). */
export function resizeNearest<T extends Uint8Array | Uint16Array>(src: T, w: number, h: number, nw: number, nh: number): T {
  const out = new (src.constructor as { new (n: number): T })(nw * nh);
  for (let y = 0; y < nh; y++) {
    const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / nh));
    for (let x = 0; x < nw; x++) {
      const sx = Math.min(w - 1, Math.floor(((x + 0.5) * w) / nw));
      out[y * nw + x] = src[sy * w + sx];
    }
  }
  return out;
}

/** Bilinear resize of planar float maps (e.g. per-class logits, NHWC with c channels). */
export function resizeFloat(src: Float32Array, w: number, h: number, channels: number, nw: number, nh: number): Float32Array {
  if (nw === w && nh === h) return src;
  return bilinearInto(src, w, h, channels, new Float32Array(nw * nh * channels), nw, nh, false);
}
