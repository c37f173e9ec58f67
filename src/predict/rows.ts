/**
 * From network windows to per-pixel results, one row at a time, so memory stays bounded by
 * a band of rows however large the image:
 * - WindowBlender adds each window's scores (planar, as the network gives them) into a band
 *   of rows with smooth blending weights, and hands rows on as soon as no later window can
 *   touch them;
 * - ResultRows resizes those rows to the image's own size and turns them into the class
 *   index of each pixel (argmax over allowed classes only) and, when asked, probabilities.
 */
import { axisWeightSums, rampWeights, type Geometry } from './plan.js';
import { bilinearAxis } from '../data/resize.js';
import { argmaxAllowed } from './forbid.js';

/** Scores of network row y for class c: a view of nw values. */
export type RowGetter = (y: number, c: number) => Float32Array;

/** Receives final network-scale rows [y0, y1) in increasing order. */
export interface RowConsumer {
  rows(y0: number, y1: number, get: RowGetter): void;
}

/** Blends windows (given in row-major order of the grid) into final rows. */
export class WindowBlender {
  private readonly band = new Map<number, Float32Array>();
  private readonly left: number[];
  private readonly sumX: Float32Array;
  private readonly sumY: Float32Array;
  private readonly rampX: Map<number, Float32Array>;
  private readonly rampY: Map<number, Float32Array>;
  private done = 0;
  private nextRow = 0;

  constructor(
    private readonly geo: Geometry,
    private readonly k: number,
    private readonly out: RowConsumer,
  ) {
    this.left = geo.ys.map(() => geo.xs.length);
    this.sumX = axisWeightSums(geo.xs, geo.tw, geo.cw, geo.nw, geo.margin, geo.ramp);
    this.sumY = axisWeightSums(geo.ys, geo.th, geo.ch, geo.nh, geo.margin, geo.ramp);
    this.rampX = new Map(geo.xs.map((x) => [x, rampWeights(x, geo.tw, geo.cw, geo.margin, geo.ramp)]));
    this.rampY = new Map(geo.ys.map((y) => [y, rampWeights(y, geo.th, geo.ch, geo.margin, geo.ramp)]));
  }

  /** Whether every window has been added. */
  get complete(): boolean {
    return this.done === this.geo.xs.length * this.geo.ys.length;
  }

  /**
   * Add window `index` (row-major in the grid) whose scores are planar [k, th, tw] at
   * scores[offset...]. A single-window image passes its rows on without copying.
   */
  add(index: number, scores: Float32Array, offset: number): void {
    const { geo, k } = this;
    const { tw, th, nw, nh } = geo;
    const r = Math.floor(index / geo.xs.length);
    const x0 = geo.xs[index % geo.xs.length];
    const y0 = geo.ys[r];
    this.done++;
    if (geo.xs.length === 1 && geo.ys.length === 1) {
      this.out.rows(0, nh, (y, c) => scores.subarray(offset + (c * th + y) * tw, offset + (c * th + y) * tw + nw));
      return;
    }
    const wx = this.rampX.get(x0)!;
    const wy = this.rampY.get(y0)!;
    const cols = Math.min(tw, nw - x0);
    for (let ty = 0; ty < th && y0 + ty < nh; ty++) {
      const a = wy[ty];
      // Rows inside the margin add nothing (and need no band row yet).
      if (a === 0) continue;
      let row = this.band.get(y0 + ty);
      if (!row) {
        row = new Float32Array(k * nw);
        this.band.set(y0 + ty, row);
      }
      for (let c = 0; c < k; c++) {
        const src = offset + (c * th + ty) * tw;
        const dst = c * nw + x0;
        for (let tx = 0; tx < cols; tx++) row[dst + tx] += a * wx[tx] * scores[src + tx];
      }
    }
    if (--this.left[r] === 0) {
      // Rows above the next window row are final: no later window covers them.
      let until = r + 1 < geo.ys.length ? Math.min(geo.ys[r + 1], nh) : nh;
      // Window rows complete in order, but guard anyway: only flush contiguous finished rows.
      for (let q = 0; q < r; q++) if (this.left[q] > 0) until = Math.min(until, geo.ys[q]);
      this.flush(until);
    }
  }

  private flush(until: number): void {
    const { nw } = this.geo;
    const k = this.k;
    if (until <= this.nextRow) return;
    for (let y = this.nextRow; y < until; y++) {
      const row = this.band.get(y)!;
      const sy = this.sumY[y];
      for (let c = 0; c < k; c++) {
        const o = c * nw;
        for (let x = 0; x < nw; x++) row[o + x] /= sy * this.sumX[x];
      }
    }
    const band = this.band;
    this.out.rows(this.nextRow, until, (y, c) => band.get(y)!.subarray(c * nw, (c + 1) * nw));
    for (let y = this.nextRow; y < until; y++) band.delete(y);
    this.nextRow = until;
  }
}

export interface ResultOptions {
  /** Image size. */
  width: number;
  height: number;
  /** Network-scale size of the rows received. */
  nw: number;
  nh: number;
  numClasses: number;
  allowed: readonly number[];
  /** What the network outputs: logits (softmax gives probabilities) or probabilities. */
  scores: 'logits' | 'probabilities';
  /** Classes whose probability maps are kept (0..max). */
  probClasses: readonly number[];
  probBits: 8 | 16;
  /** Receives every image row's probabilities of all classes, HWC-interleaved (for .npy). */
  probRows?: (y: number, row: Float32Array) => void;
}

/**
 * Collects final network rows into the image's classes and probability maps, resizing
 * bilinearly to the image size (as resizeFloat does) when the network scale differs.
 */
export class ResultRows implements RowConsumer {
  readonly classes: Uint8Array;
  readonly probMaps = new Map<number, Uint8Array | Uint16Array>();
  private readonly cache = new Map<number, Float32Array[]>();
  private nextOut = 0;
  private readonly identity: boolean;
  private readonly colA: Int32Array;
  private readonly colB: Int32Array;
  private readonly colW: Float64Array;
  private readonly planes: Float32Array[];
  private readonly probs: Float32Array[];
  private readonly needProbs: boolean;
  private readonly npyRow: Float32Array | null;
  private readonly scratch: Float32Array;
  private readonly scratch2: Float32Array;

  constructor(private readonly o: ResultOptions) {
    const { width: W, height: H, nw, nh, numClasses: k } = o;
    this.classes = new Uint8Array(W * H);
    for (const c of o.probClasses) this.probMaps.set(c, o.probBits === 16 ? new Uint16Array(W * H) : new Uint8Array(W * H));
    this.identity = W === nw && H === nh;
    const cols = bilinearAxis(nw, W);
    this.colA = cols.i0;
    this.colB = cols.i1;
    this.colW = cols.w;
    this.planes = Array.from({ length: k }, () => new Float32Array(W));
    this.needProbs = o.probClasses.length > 0 || o.probRows !== undefined;
    this.probs = this.needProbs ? Array.from({ length: k }, () => new Float32Array(W)) : [];
    this.npyRow = o.probRows ? new Float32Array(W * k) : null;
    this.scratch = new Float32Array(W);
    this.scratch2 = new Float32Array(W);
    void H;
  }

  /** Whether every image row has been produced. */
  get complete(): boolean {
    return this.nextOut === this.o.height;
  }

  rows(y0: number, y1: number, get: RowGetter): void {
    const { numClasses: k, height: H, nh } = this.o;
    if (this.identity) {
      for (let y = y0; y < y1; y++) {
        for (let c = 0; c < k; c++) this.planes[c] = get(y, c);
        this.emit(y);
      }
      this.nextOut = y1;
      return;
    }
    // Keep copies of the rows still needed for interpolation (the views may be reused).
    for (let y = y0; y < y1; y++)
      this.cache.set(
        y,
        Array.from({ length: k }, (_, c) => get(y, c).slice()),
      );
    const sy = nh / H;
    const own = Array.from({ length: k }, () => new Float32Array(this.o.width));
    while (this.nextOut < H) {
      const Y = this.nextOut;
      const fy = Math.min(Math.max((Y + 0.5) * sy - 0.5, 0), nh - 1);
      const a = Math.floor(fy);
      const b = Math.min(a + 1, nh - 1);
      if (b >= y1) break;
      const ra = this.cache.get(a)!;
      const rb = this.cache.get(b)!;
      const wy = fy - a;
      for (let c = 0; c < k; c++) {
        const pa = ra[c];
        const pb = rb[c];
        const out = own[c];
        for (let x = 0; x < out.length; x++) {
          const xa = this.colA[x];
          const xb = this.colB[x];
          const wx = this.colW[x];
          out[x] = (pa[xa] * (1 - wx) + pa[xb] * wx) * (1 - wy) + (pb[xa] * (1 - wx) + pb[xb] * wx) * wy;
        }
        this.planes[c] = out;
      }
      this.emit(Y);
      this.nextOut++;
      for (const y of this.cache.keys()) if (y < a) this.cache.delete(y);
    }
  }

  private emit(y: number): void {
    argmaxAllowed(this.planes, this.o.allowed, this.o.width, this.classes, y * this.o.width);
    if (this.needProbs) this.emitProbs(y);
  }

  /**
   * Probabilities with forbidden classes removed: softmax over the allowed logits, or the
   * allowed probabilities renormalised to sum 1 (forbidden classes get 0).
   */
  private emitProbs(y: number): void {
    const { width: W, allowed, numClasses: k } = this.o;
    const probs = this.probs;
    const planes = this.planes;
    for (let c = 0; c < k; c++) if (!allowed.includes(c)) probs[c].fill(0);
    if (this.o.scores === 'logits' && allowed.length === 2) {
      // Two classes: a logistic of the logit difference, one exp per pixel.
      const [a, b] = allowed;
      const la = planes[a];
      const lb = planes[b];
      const pa = probs[a];
      const pb = probs[b];
      for (let x = 0; x < W; x++) {
        const q = 1 / (1 + Math.exp(la[x] - lb[x]));
        pb[x] = q;
        pa[x] = 1 - q;
      }
    } else if (this.o.scores === 'logits') {
      const m = this.scratch;
      const s = this.scratch2;
      m.fill(-Infinity);
      s.fill(0);
      for (const c of allowed) {
        const l = planes[c];
        for (let x = 0; x < W; x++) if (l[x] > m[x]) m[x] = l[x];
      }
      for (const c of allowed) {
        const l = planes[c];
        const p = probs[c];
        for (let x = 0; x < W; x++) {
          const e = Math.exp(l[x] - m[x]);
          p[x] = e;
          s[x] += e;
        }
      }
      for (const c of allowed) {
        const p = probs[c];
        for (let x = 0; x < W; x++) p[x] /= s[x];
      }
    } else {
      const s = this.scratch2;
      s.fill(0);
      for (const c of allowed) {
        const l = planes[c];
        for (let x = 0; x < W; x++) s[x] += Math.max(0, l[x]);
      }
      for (const c of allowed) {
        const l = planes[c];
        const p = probs[c];
        for (let x = 0; x < W; x++) p[x] = s[x] > 0 ? Math.max(0, l[x]) / s[x] : 1 / allowed.length;
      }
    }
    const base = y * W;
    for (const [c, map] of this.probMaps) {
      const max = map instanceof Uint16Array ? 65535 : 255;
      const p = probs[c];
      // Probabilities are >= 0, so adding 0.5 and truncating rounds them.
      for (let x = 0; x < W; x++) map[base + x] = p[x] * max + 0.5;
    }
    if (this.npyRow && this.o.probRows) {
      const row = this.npyRow;
      for (let x = 0; x < W; x++) for (let c = 0; c < k; c++) row[x * k + c] = probs[c][x];
      this.o.probRows(y, row);
    }
  }
}
