/**
 * Making gaps the way annotators leave them: erode every class by `px` pixels and mark the
 * removed band void. A pixel stays labelled only if every pixel within Euclidean distance
 * `px` has the same class, so the band between two classes is about 2*px wide.
 *
 * Symmetric bands favour a method that puts the frontier in the middle of the gap. With
 * `uneven` u in (0, 1], the erosion of each class is px times a factor drawn per image and
 * class from [1 - u, 1 + u] (the two sides of a boundary differ), times a smooth field in
 * [1 - u/2, 1 + u/2] that varies along the boundary; the draws follow the image's seed, so
 * they differ from image to image and are the same every run.
 */
import { VOID_INDEX } from './classes.js';
import { makeRng, type Rng } from '../util/random.js';

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

/** A smooth field over the image in [1 - u/2, 1 + u/2]: three plane waves of random direction, phase and wavelength. */
function unevenField(w: number, h: number, u: number, rng: Rng): Float32Array {
  const side = Math.max(w, h);
  const waves = Array.from({ length: 3 }, () => {
    const angle = 2 * Math.PI * rng.next();
    const k = (2 * Math.PI) / (side * (0.15 + 0.45 * rng.next()));
    return { kx: k * Math.cos(angle), ky: k * Math.sin(angle), phase: 2 * Math.PI * rng.next() };
  });
  const field = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (const q of waves) v += Math.sin(q.kx * x + q.ky * y + q.phase);
      field[y * w + x] = 1 + (u / 2) * (v / 3);
    }
  }
  return field;
}

/**
 * Return a copy of `labels` (class indices, VOID_INDEX = void) where every pixel closer than
 * or at `px` to a pixel of another value (another class or void) becomes void; with `uneven`
 * > 0, `px` varies by class and along the boundary as the header says, drawn from `seed`.
 */
export function makeGap(labels: Uint8Array, w: number, h: number, px: number, uneven = 0, seed = 0): Uint8Array {
  const out = labels.slice();
  if (px <= 0) return out;
  const present = [...new Set(labels)].filter((v) => v !== VOID_INDEX).sort((a, b) => a - b);
  const rng = makeRng(seed);
  const field = uneven > 0 ? unevenField(w, h, uneven, rng) : null;
  for (const cls of present) {
    const factor = uneven > 0 ? 1 + uneven * (2 * rng.next() - 1) : 1;
    const dist = squaredDistanceTo((i) => labels[i] !== cls, w, h);
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] !== cls) continue;
      const r = px * factor * (field ? field[i] : 1);
      if (dist[i] <= r * r) out[i] = VOID_INDEX;
    }
  }
  return out;
}
