/**
 * The permutohedral lattice (Adams, Baek and Davis, Eurographics 2010): Gaussian filtering in
 * a d-dimensional feature space (position and colour for the dense CRF) in time linear in the
 * pixels. Each point is splatted onto the d+1 vertices of the lattice simplex that holds it,
 * the lattice is blurred with [1/2 1 1/2] along each of its d+1 axes, and the result sliced
 * back at the points with the same barycentric weights. The filter approximates
 * sum_j exp(-|f_i - f_j|^2 / 2) v_j up to a constant factor, which callers divide out by
 * filtering ones. Pure TypeScript, browser-safe.
 */

/** A lattice built for one set of points; `filter` may run on many value arrays. */
export interface Lattice {
  /** Points (pixels). */
  readonly n: number;
  /** Lattice vertices in use. */
  readonly vertices: number;
  /** out[i*m + c] = sum_j K(i, j) values[j*m + c] (up to a constant), for m values per point. */
  filter(values: Float32Array, m: number, out?: Float32Array): Float32Array;
}

/** Open-addressing table from d integer coordinates to a vertex index. */
class KeyTable {
  keys: Int32Array;
  slots: Int32Array;
  size = 0;
  private mask: number;

  constructor(
    private readonly d: number,
    capacity: number,
  ) {
    let cap = 1024;
    while (cap < capacity * 2) cap *= 2;
    this.mask = cap - 1;
    this.slots = new Int32Array(cap).fill(-1);
    this.keys = new Int32Array((cap >> 1) * d);
  }

  private hash(key: Int32Array, at: number): number {
    let h = 0;
    for (let i = 0; i < this.d; i++) h = Math.imul(h + key[at + i], 2531011) | 0;
    return (h ^ (h >>> 15)) & this.mask;
  }

  /** The vertex of key[at..at+d), created when `insert`; -1 when absent. */
  find(key: Int32Array, at: number, insert: boolean): number {
    const d = this.d;
    const keys = this.keys;
    const slots = this.slots;
    const mask = this.mask;
    let s = this.hash(key, at);
    for (;;) {
      const v = slots[s];
      if (v < 0) break;
      let i = 0;
      const base = v * d;
      while (i < d && keys[base + i] === key[at + i]) i++;
      if (i === d) return v;
      s = (s + 1) & mask;
    }
    if (!insert) return -1;
    if (this.size * d >= this.keys.length) {
      this.grow();
      return this.find(key, at, true);
    }
    const v = this.size++;
    this.keys.set(key.subarray(at, at + d), v * d);
    this.slots[s] = v;
    return v;
  }

  private grow(): void {
    const d = this.d;
    const old = this.keys;
    const n = this.size;
    const cap = this.slots.length * 2;
    this.mask = cap - 1;
    this.slots = new Int32Array(cap).fill(-1);
    this.keys = new Int32Array((cap >> 1) * d);
    this.keys.set(old.subarray(0, n * d));
    for (let v = 0; v < n; v++) {
      let s = this.hash(this.keys, v * d);
      while (this.slots[s] >= 0) s = (s + 1) & this.mask;
      this.slots[s] = v;
    }
  }
}

/**
 * The lattice of n points with d features each (features[i*d + j], already divided by the
 * Gaussian's width in that feature, so that the kernel is exp(-|f_i - f_j|^2 / 2)).
 */
export function buildLattice(features: Float32Array, n: number, d: number): Lattice {
  if (features.length !== n * d) throw new Error(`buildLattice: ${features.length} features for ${n} points of ${d}`);
  const d1 = d + 1;
  // The lattice's own scale: a lattice step is then one standard deviation of the kernel.
  const scale = new Float64Array(d);
  const invStd = Math.sqrt(2 / 3) * d1;
  for (let i = 0; i < d; i++) scale[i] = invStd / Math.sqrt((i + 1) * (i + 2));
  // canonical[r*d1 + i]: coordinate i of the simplex's vertex r before its shift by rem0.
  const canonical = new Int32Array(d1 * d1);
  for (let r = 0; r <= d; r++) {
    for (let i = 0; i <= d - r; i++) canonical[r * d1 + i] = r;
    for (let i = d - r + 1; i <= d; i++) canonical[r * d1 + i] = r - d1;
  }
  const table = new KeyTable(d, Math.min(n * d1, 1 << 18));
  const offsets = new Int32Array(n * d1);
  const weights = new Float32Array(n * d1);
  const elevated = new Float64Array(d1);
  const rem0 = new Int32Array(d1);
  const rank = new Int32Array(d1);
  const bary = new Float64Array(d1 + 1);
  const key = new Int32Array(d);
  for (let p = 0; p < n; p++) {
    // Elevate onto the hyperplane sum(x) = 0 of R^(d+1).
    let sum = 0;
    for (let j = d; j > 0; j--) {
      const cf = features[p * d + j - 1] * scale[j - 1];
      elevated[j] = sum - j * cf;
      sum += cf;
    }
    elevated[0] = sum;
    // The nearest vertex of the lattice's zero colour, then the simplex around the point.
    let total = 0;
    for (let i = 0; i <= d; i++) {
      const rd = Math.round(elevated[i] / d1);
      rem0[i] = rd * d1;
      total += rd;
    }
    rank.fill(0);
    for (let i = 0; i < d; i++) {
      const di = elevated[i] - rem0[i];
      for (let j = i + 1; j <= d; j++) {
        if (di < elevated[j] - rem0[j]) rank[i]++;
        else rank[j]++;
      }
    }
    for (let i = 0; i <= d; i++) {
      rank[i] += total;
      if (rank[i] < 0) {
        rank[i] += d1;
        rem0[i] += d1;
      } else if (rank[i] > d) {
        rank[i] -= d1;
        rem0[i] -= d1;
      }
    }
    bary.fill(0);
    for (let i = 0; i <= d; i++) {
      const v = (elevated[i] - rem0[i]) / d1;
      bary[d - rank[i]] += v;
      bary[d - rank[i] + 1] -= v;
    }
    bary[0] += 1 + bary[d1];
    for (let r = 0; r <= d; r++) {
      for (let i = 0; i < d; i++) key[i] = rem0[i] + canonical[r * d1 + rank[i]];
      offsets[p * d1 + r] = table.find(key, 0, true);
      weights[p * d1 + r] = bary[r];
    }
  }
  const m = table.size;
  // Each vertex's two neighbours along each of the d+1 axes (-1: not in the lattice).
  const neighbours = new Int32Array(d1 * m * 2);
  const probe = new Int32Array(2 * d);
  for (let axis = 0; axis <= d; axis++) {
    for (let v = 0; v < m; v++) {
      for (let i = 0; i < d; i++) {
        const c = table.keys[v * d + i];
        probe[i] = c - 1;
        probe[d + i] = c + 1;
      }
      if (axis < d) {
        probe[axis] = table.keys[v * d + axis] + d;
        probe[d + axis] = table.keys[v * d + axis] - d;
      }
      neighbours[(axis * m + v) * 2] = table.find(probe, 0, false);
      neighbours[(axis * m + v) * 2 + 1] = table.find(probe, d, false);
    }
  }

  return {
    n,
    vertices: m,
    filter(values: Float32Array, k: number, out = new Float32Array(n * k)): Float32Array {
      if (values.length !== n * k) throw new Error(`lattice filter: ${values.length} values for ${n} points of ${k}`);
      let a = new Float32Array(m * k);
      let b = new Float32Array(m * k);
      for (let p = 0; p < n; p++) {
        for (let r = 0; r <= d; r++) {
          const w = weights[p * d1 + r];
          const o = offsets[p * d1 + r] * k;
          for (let c = 0; c < k; c++) a[o + c] += w * values[p * k + c];
        }
      }
      for (let axis = 0; axis <= d; axis++) {
        for (let v = 0; v < m; v++) {
          const n1 = neighbours[(axis * m + v) * 2];
          const n2 = neighbours[(axis * m + v) * 2 + 1];
          for (let c = 0; c < k; c++) {
            const left = n1 >= 0 ? a[n1 * k + c] : 0;
            const right = n2 >= 0 ? a[n2 * k + c] : 0;
            b[v * k + c] = a[v * k + c] + 0.5 * (left + right);
          }
        }
        [a, b] = [b, a];
      }
      out.fill(0);
      for (let p = 0; p < n; p++) {
        for (let r = 0; r <= d; r++) {
          const w = weights[p * d1 + r];
          const o = offsets[p * d1 + r] * k;
          for (let c = 0; c < k; c++) out[p * k + c] += w * a[o + c];
        }
      }
      return out;
    },
  };
}
