/** Tensor layout conversions of float arrays. */

/** Planar [n, c, h, w] to interleaved [n, h, w, c] (a copy). */
export function nchwToNhwc(x: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  const plane = h * w;
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      const src = (b * c + k) * plane;
      const dst = b * plane * c + k;
      for (let p = 0; p < plane; p++) out[dst + p * c] = x[src + p];
    }
  }
  return out;
}

/** Interleaved [n, h, w, c] to planar [n, c, h, w]. */
export function nhwcToNchw(x: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  const plane = h * w;
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      const dst = (b * c + k) * plane;
      const src = b * plane * c + k;
      for (let p = 0; p < plane; p++) out[dst + p] = x[src + p * c];
    }
  }
  return out;
}
