/**
 * Resampling of images (bilinear, area-averaged when shrinking) and of label maps (nearest
 * neighbour, so no label value is ever invented between two classes).
 */

/** Size after scaling, never below one pixel. */
export function scaledSize(w: number, h: number, scale: number): [number, number] {
  return [Math.max(1, Math.round(w * scale)), Math.max(1, Math.round(h * scale))];
}

/** Resize an interleaved 8-bit image with `channels` channels. */
export function resizeImage(src: Uint8Array, w: number, h: number, channels: number, nw: number, nh: number): Uint8Array {
  if (nw === w && nh === h) return src.slice();
  const out = new Uint8Array(nw * nh * channels);
  const sx = w / nw;
  const sy = h / nh;
  if (sx > 1.5 || sy > 1.5) return resizeArea(src, w, h, channels, nw, nh);
  for (let y = 0; y < nh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const wy = fy - y0;
    for (let x = 0; x < nw; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const wx = fx - x0;
      for (let c = 0; c < channels; c++) {
        const a = src[(y0 * w + x0) * channels + c];
        const b = src[(y0 * w + x1) * channels + c];
        const d = src[(y1 * w + x0) * channels + c];
        const e = src[(y1 * w + x1) * channels + c];
        const v = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
        out[(y * nw + x) * channels + c] = Math.round(v);
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
  const out = new Float32Array(nw * nh * channels);
  const sx = w / nw;
  const sy = h / nh;
  for (let y = 0; y < nh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const wy = fy - y0;
    for (let x = 0; x < nw; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const wx = fx - x0;
      const o = (y * nw + x) * channels;
      const a = (y0 * w + x0) * channels;
      const b = (y0 * w + x1) * channels;
      const d = (y1 * w + x0) * channels;
      const e = (y1 * w + x1) * channels;
      for (let c = 0; c < channels; c++) {
        out[o + c] = (src[a + c] * (1 - wx) + src[b + c] * wx) * (1 - wy) + (src[d + c] * (1 - wx) + src[e + c] * wx) * wy;
      }
    }
  }
  return out;
}
