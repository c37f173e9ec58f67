/**
 * Making gaps the way annotators leave them: erode every class by `px` pixels and mark the
 * removed band void. A pixel stays labelled only if every pixel within Euclidean distance
 * `px` has the same class, so the band between two classes is about 2*px wide.
 */
import { VOID_INDEX } from './classes.js';

const INF = 1e20;

/** 1-D squared Euclidean distance transform (Felzenszwalb & Huttenlocher 2012). */
function edt1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -INF;
  z[1] = INF;
  for (let q = 1; q < n; q++) {
    let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    while (s <= z[k]) {
      k--;
      s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = INF;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    d[q] = (q - v[k]) * (q - v[k]) + f[v[k]];
  }
}

/**
 * Squared distance from every pixel to the nearest pixel where `isSeed` is true
 * (INF-like when there is none).
 */
export function squaredDistanceTo(isSeed: (i: number) => boolean, w: number, h: number): Float64Array {
  const n = Math.max(w, h);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const grid = new Float64Array(w * h);
  for (let i = 0; i < w * h; i++) grid[i] = isSeed(i) ? 0 : INF;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) f[y] = grid[y * w + x];
    edt1d(f, h, d, v, z);
    for (let y = 0; y < h; y++) grid[y * w + x] = d[y];
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) f[x] = grid[y * w + x];
    edt1d(f, w, d, v, z);
    for (let x = 0; x < w; x++) grid[y * w + x] = d[x];
  }
  return grid;
}

/**
 * Return a copy of `labels` (class indices, VOID_INDEX = void) where every pixel closer than
 * or at `px` to a pixel of another value (another class or void) becomes void.
 */
export function makeGap(labels: Uint8Array, w: number, h: number, px: number): Uint8Array {
  const out = labels.slice();
  if (px <= 0) return out;
  const present = new Set<number>();
  for (const v of labels) if (v !== VOID_INDEX) present.add(v);
  const r2 = px * px;
  for (const cls of present) {
    const dist = squaredDistanceTo((i) => labels[i] !== cls, w, h);
    for (let i = 0; i < labels.length; i++) if (labels[i] === cls && dist[i] <= r2) out[i] = VOID_INDEX;
  }
  return out;
}
