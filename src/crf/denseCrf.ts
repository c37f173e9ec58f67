/**
 * The fully connected CRF of Krähenbühl and Koltun (NeurIPS
 * 2011), as DeepLab used it, over the network's probabilities. Unary: -log p; pairwise: Potts
 * with an appearance kernel (position and colour) and a smoothness kernel (position only).
 * Mean field, each message a Gaussian filter on the permutohedral lattice (lattice.ts).
 *
 * Messages are normalised (the filtered Q divided by the filtered ones: a kernel-weighted mean
 * of the neighbours' class probabilities), so a kernel's weight is the logit a pixel gains for
 * a class its whole neighbourhood holds, whatever the kernel's width or the image's size.
 * Forbidden classes stay at probability 0 and never enter the filtering. Kernel widths are in
 * pixels at the model's scale (`scale` converts them to the image's). Used at prediction time
 * (`predict --refine crf`) and for the gap's training targets (losses/gapLoss.ts). Pure
 * TypeScript, browser-safe.
 */
import { GapsegError } from '../util/errors.js';
import { softmaxPixels } from '../util/softmax.js';
import { buildLattice, type Lattice } from './lattice.js';

/** Settings of the dense CRF (`predict --refine crf`). */
export interface DenseCrfParams {
  /** Mean-field iterations. */
  iterations: number;
  /** Weight of the appearance kernel (logit units). */
  appearanceWeight: number;
  /** Its spatial width, pixels at the model's scale. */
  sigmaXY: number;
  /** Its colour width, on RGB in 0..255. */
  sigmaRGB: number;
  /** Weight of the smoothness kernel (logit units; 0: none). */
  smoothnessWeight: number;
  /** Its spatial width, pixels at the model's scale. */
  smoothnessXY: number;
}

/**
 * Defaults of `--refine crf`: a local appearance kernel, which moves the frontier onto nearby
 * colour edges; DeepLab's long-range one drags faint, thin objects into the surrounding class,
 * and a smoothness kernel lowered BF (docs/experiments.md, refinement).
 */
export const DEFAULT_DENSE_CRF: DenseCrfParams = {
  iterations: 10,
  appearanceWeight: 8,
  sigmaXY: 5,
  sigmaRGB: 10,
  smoothnessWeight: 0,
  smoothnessXY: 3,
};

/** Refuse settings that cannot filter: one line naming the setting. */
export function checkDenseCrf(p: DenseCrfParams): DenseCrfParams {
  const positive: (keyof DenseCrfParams)[] = ['sigmaXY', 'sigmaRGB', 'smoothnessXY'];
  for (const key of positive)
    if (!(p[key] > 0) || !Number.isFinite(p[key])) throw new GapsegError(`refine: ${key} must be a positive number, not ${p[key]}`, 2);
  for (const key of ['appearanceWeight', 'smoothnessWeight'] as const)
    if (!(p[key] >= 0) || !Number.isFinite(p[key])) throw new GapsegError(`refine: ${key} must be a number >= 0, not ${p[key]}`, 2);
  if (!Number.isInteger(p.iterations) || p.iterations < 1 || p.iterations > 50)
    throw new GapsegError(`refine: iterations must be an integer from 1 to 50, not ${p.iterations}`, 2);
  return p;
}

/**
 * How the API asks for refinement: true for the defaults, some settings over them, or 'auto':
 * the defaults where the model's refinement check found them harmless (predict/refineCheck.ts).
 */
export type RefineOption = boolean | 'auto' | Partial<DenseCrfParams>;

/** The dense CRF's settings for an option (null: no refinement); unknown settings are refused. */
export function denseCrfSettings(o: RefineOption | null | undefined): DenseCrfParams | null {
  if (o === undefined || o === null || o === false) return null;
  if (o === true) return DEFAULT_DENSE_CRF;
  if (o === 'auto') throw new Error("denseCrfSettings: 'auto' depends on the model (predict/refineCheck.ts refineSettings)");
  for (const key of Object.keys(o)) {
    if (!(key in DEFAULT_DENSE_CRF))
      throw new GapsegError(`refine: unknown setting "${key}" (known: ${Object.keys(DEFAULT_DENSE_CRF).join(', ')})`, 2);
  }
  return checkDenseCrf({ ...DEFAULT_DENSE_CRF, ...o });
}

/** What refining needs: the image (RGB bytes, HWC) and its HWC class probabilities. */
export interface RefineInput {
  width: number;
  height: number;
  rgb: Uint8Array;
  /** HWC probabilities, numClasses per pixel; forbidden classes 0. */
  probs: Float32Array;
  numClasses: number;
}

/** A lattice over the pixels with features (x, y)/sxy and optionally (r, g, b)/srgb. */
function pixelLattice(width: number, height: number, sxy: number, rgb: Uint8Array | null, srgb: number): Lattice {
  const d = rgb ? 5 : 2;
  const n = width * height;
  const f = new Float32Array(n * d);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      f[i * d] = x / sxy;
      f[i * d + 1] = y / sxy;
      if (rgb) {
        f[i * d + 2] = rgb[i * 3] / srgb;
        f[i * d + 3] = rgb[i * 3 + 1] / srgb;
        f[i * d + 4] = rgb[i * 3 + 2] / srgb;
      }
    }
  }
  return buildLattice(f, n, d);
}

/**
 * The refined HWC probabilities over `allowed` (other classes 0). `scale` is image pixels per
 * model pixel (the kernels' widths are given at the model's scale).
 */
export function refineDenseCrf(input: RefineInput, allowed: readonly number[], params: DenseCrfParams, scale = 1): Float32Array {
  const { width: w, height: h, numClasses: k } = input;
  const n = w * h;
  if (input.probs.length !== n * k || input.rgb.length !== n * 3)
    throw new Error(`refineDenseCrf: ${input.probs.length} probabilities and ${input.rgb.length} RGB bytes for ${w}x${h}x${k}`);
  const p = checkDenseCrf(params);
  const ka = allowed.length;
  const kernels: { lattice: Lattice; weight: number; norm: Float32Array }[] = [];
  const add = (weight: number, lattice: () => Lattice) => {
    if (weight === 0 || ka < 2) return;
    const l = lattice();
    const norm = l.filter(new Float32Array(n).fill(1), 1);
    for (let i = 0; i < n; i++) norm[i] = 1 / Math.max(norm[i], 1e-20);
    kernels.push({ lattice: l, weight, norm });
  };
  add(p.appearanceWeight, () => pixelLattice(w, h, p.sigmaXY * scale, input.rgb, p.sigmaRGB));
  add(p.smoothnessWeight, () => pixelLattice(w, h, p.smoothnessXY * scale, null, 1));
  // Q and the unary over the allowed classes only, ka values per pixel.
  const unary = new Float32Array(n * ka);
  const q = new Float32Array(n * ka);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < ka; a++) {
      const v = input.probs[i * k + allowed[a]];
      q[i * ka + a] = v;
      unary[i * ka + a] = Math.log(Math.max(v, 1e-8));
    }
  }
  const logits = new Float32Array(n * ka);
  const filtered = new Float32Array(n * ka);
  for (let it = 0; kernels.length && it < p.iterations; it++) {
    logits.set(unary);
    for (const kern of kernels) {
      kern.lattice.filter(q, ka, filtered);
      for (let i = 0; i < n; i++) {
        const s = kern.weight * kern.norm[i];
        for (let a = 0; a < ka; a++) logits[i * ka + a] += s * filtered[i * ka + a];
      }
    }
    softmaxPixels(logits, 0, q, 0, n, ka);
  }
  const probs = new Float32Array(n * k);
  for (let a = 0; a < ka; a++) for (let i = 0; i < n; i++) probs[i * k + allowed[a]] = q[i * ka + a];
  return probs;
}
