/**
 * The optional loss on the unlabelled gap. Cross-entropy on labelled pixels says nothing about
 * the gap; two losses say something, both from the image's colours:
 *  - 'crf', the Gated CRF loss (gatedCrf.ts): on every pixel inside the image, a pull of
 *    neighbouring pixels of similar colour towards the same class;
 *  - 'crf-targets': inside the gap, cross-entropy towards the fully connected CRF's refinement
 *    of the network's own prediction (crf/denseCrf.ts, the mean field of `predict --refine crf`,
 *    held fixed: no gradient through it), as Kolesnikov and Lampert's constrain-to-boundary loss
 *    (SEC, ECCV 2016) does on all pixels. The frontier is pulled to where the CRF puts it.
 * Either way the frontier falls on the image's own edges rather than wherever the network's
 * smoothness puts it. Colour is the augmented crop's own RGB (what the network sees, before the
 * mean/std normalisation); the gate is the crop's validity mask (0 on padding outside the image).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GATED_CRF, type GatedCrfParams } from './gatedCrf.js';
import { DEFAULT_DENSE_CRF, refineDenseCrf, type DenseCrfParams } from '../crf/denseCrf.js';

/** A regulariser of the gap, as stored in config.json. */
export interface CrfGapLoss extends GatedCrfParams {
  kind: 'crf';
}
/** CRF targets in the gap: `weight` times the mean cross-entropy over gap pixels. */
export interface CrfTargetsGapLoss extends DenseCrfParams {
  kind: 'crf-targets';
  weight: number;
}
export type GapLossConfig = CrfGapLoss | CrfTargetsGapLoss;

/** Settings of `--gap-loss crf-targets`: the dense CRF of `predict --refine crf`. */
export const DEFAULT_CRF_TARGETS: CrfTargetsGapLoss = { kind: 'crf-targets', weight: 0.5, ...DEFAULT_DENSE_CRF };

/**
 * Settings used when `--gap-loss crf` is given without the others. Kernel widths as in Obukhov
 * et al.; the weight is far below their 0.1 (with a per-pixel kernel mass of ~92 at radius 5,
 * sigma 6, that overwhelms the cross-entropy of a network trained from scratch here). 0.003 is
 * the best of the weights the gap benchmark tried: 0.01 and above lowered BF (README).
 */
export const DEFAULT_CRF: CrfGapLoss = { kind: 'crf', weight: 0.003, radius: 5, sigmaXY: 6, sigmaRGB: 0.1 };

/**
 * What the gap loss needs from a batch: crop RGB bytes [n,h,w,3], validity [n,h,w] (absent: all
 * valid) and, for CRF targets, the weighted one-hot targets (all zero on a gap pixel).
 */
export interface GapLossInputs {
  n: number;
  height: number;
  width: number;
  rgb?: Uint8Array;
  valid?: Uint8Array;
  targets?: { oneHot: Float32Array };
}

type GapTerm = { term: (logits: tf.Tensor4D) => { value: number; grad: tf.Tensor4D }; dispose: () => void };

/** The CRF-targets term: pixels inside a crop with no target are the gap. */
function crfTargetsTerm(cfg: CrfTargetsGapLoss, batch: GapLossInputs): GapTerm {
  const { n, height: h, width: w } = batch;
  const hw = h * w;
  const rgb = batch.rgb;
  const oneHot = batch.targets?.oneHot;
  if (!rgb || rgb.length !== n * hw * 3 || !oneHot || oneHot.length % (n * hw) !== 0) throw new Error('gap loss: the batch carries no crop RGB or targets of the right size');
  const k = oneHot.length / (n * hw);
  const gap = new Uint8Array(n * hw);
  let count = 0;
  for (let i = 0; i < n * hw; i++) {
    if (batch.valid && !batch.valid[i]) continue;
    let s = 0;
    for (let c = 0; c < k; c++) s += oneHot[i * k + c];
    if (s === 0) {
      gap[i] = 1;
      count++;
    }
  }
  const classes = [...Array(k).keys()];
  return {
    term: (logits) => {
      const grad = new Float32Array(n * hw * k);
      if (count === 0 || cfg.weight === 0) return { value: 0, grad: tf.tensor4d(grad, logits.shape) };
      const z = logits.dataSync();
      const probs = new Float32Array(hw * k);
      let value = 0;
      for (let b = 0; b < n; b++) {
        const base = b * hw;
        for (let i = 0; i < hw; i++) {
          const o = (base + i) * k;
          let m = -Infinity;
          for (let c = 0; c < k; c++) m = Math.max(m, z[o + c]);
          let sum = 0;
          for (let c = 0; c < k; c++) sum += probs[i * k + c] = Math.exp(z[o + c] - m);
          for (let c = 0; c < k; c++) probs[i * k + c] /= sum;
        }
        let any = false;
        for (let i = 0; i < hw && !any; i++) any = gap[base + i] === 1;
        if (!any) continue;
        const q = refineDenseCrf({ width: w, height: h, rgb: rgb.subarray(base * 3, (base + hw) * 3), probs, numClasses: k }, classes, cfg);
        for (let i = 0; i < hw; i++) {
          if (!gap[base + i]) continue;
          for (let c = 0; c < k; c++) {
            const p = probs[i * k + c];
            value -= q[i * k + c] * Math.log(Math.max(p, 1e-12));
            grad[(base + i) * k + c] = p - q[i * k + c];
          }
        }
      }
      const scale = cfg.weight / count;
      for (let i = 0; i < grad.length; i++) grad[i] *= scale;
      return { value: value * scale, grad: tf.tensor4d(grad, logits.shape) };
    },
    dispose: () => undefined,
  };
}

/**
 * The gap loss of a batch as a function of the logits (value and gradient w.r.t. them);
 * `dispose` frees its image and gate tensors.
 */
export function gapLossTerm(cfg: GapLossConfig, batch: GapLossInputs): GapTerm {
  if (cfg.kind === 'crf-targets') return crfTargetsTerm(cfg, batch);
  const { n, height: h, width: w } = batch;
  if (!batch.rgb || batch.rgb.length !== n * h * w * 3) throw new Error('gap loss: the batch carries no crop RGB of the right size');
  const rgb = new Float32Array(batch.rgb.length);
  for (let i = 0; i < rgb.length; i++) rgb[i] = batch.rgb[i] / 255;
  const gateValues = new Float32Array(n * h * w);
  if (batch.valid) for (let i = 0; i < gateValues.length; i++) gateValues[i] = batch.valid[i];
  else gateValues.fill(1);
  const image = tf.tensor4d(rgb, [n, h, w, 3]);
  const gate = tf.tensor3d(gateValues, [n, h, w]);
  const attrs = { weight: cfg.weight, radius: cfg.radius, sigmaXY: cfg.sigmaXY, sigmaRGB: cfg.sigmaRGB };
  return {
    term: (logits) => {
      const [loss, grad] = tf.engine().runKernel(GATED_CRF, { logits, image, gate }, attrs) as tf.Tensor[];
      const value = loss.dataSync()[0];
      loss.dispose();
      return { value, grad: grad as tf.Tensor4D };
    },
    dispose: () => tf.dispose([image, gate]),
  };
}

/** One-line description for logs. */
export function describeGapLoss(cfg: GapLossConfig | null | undefined): string {
  if (!cfg) return 'none';
  if (cfg.kind === 'crf-targets') {
    return `CRF targets in the gap (weight ${cfg.weight}; dense CRF: ${cfg.iterations} iterations, appearance ${cfg.appearanceWeight} at sigma xy ${cfg.sigmaXY} px, rgb ${cfg.sigmaRGB}; smoothness ${cfg.smoothnessWeight} at ${cfg.smoothnessXY} px)`;
  }
  return `Gated CRF (weight ${cfg.weight}, radius ${cfg.radius} px, sigma xy ${cfg.sigmaXY} px, sigma rgb ${cfg.sigmaRGB})`;
}
