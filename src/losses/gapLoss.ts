/**
 * The optional loss on the unlabelled gap. Cross-entropy on labelled pixels says nothing about
 * the gap; the Gated CRF loss (gatedCrf.ts) adds, on every pixel inside the image, a
 * pull of neighbouring pixels of similar colour towards the same class, so the frontier falls
 * on the image's own edges rather than wherever the network's smoothness puts it.
 * Colour is the augmented crop's own RGB in 0..1 (what the network sees, before the mean/std
 * normalisation); the gate is the crop's validity mask (0 on padding outside the image).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GATED_CRF, type GatedCrfParams } from './gatedCrf.js';

/** A regulariser of the gap, as stored in config.json. */
export interface CrfGapLoss extends GatedCrfParams {
  kind: 'crf';
}
export type GapLossConfig = CrfGapLoss;

/**
 * Settings used when `--gap-loss crf` is given without the others. Kernel widths as in Obukhov
 * et al.; the weight is far below their 0.1 (with a per-pixel kernel mass of ~92 at radius 5,
 * sigma 6, that overwhelms the cross-entropy of a network trained from scratch here). 0.003 is
 * the best of the weights the gap benchmark tried: 0.01 and above lowered BF (README).
 */
export const DEFAULT_CRF: CrfGapLoss = { kind: 'crf', weight: 0.003, radius: 5, sigmaXY: 6, sigmaRGB: 0.1 };

/** What the gap loss needs from a batch: crop RGB bytes [n,h,w,3] and validity [n,h,w] (absent: all valid). */
export interface GapLossInputs {
  n: number;
  height: number;
  width: number;
  rgb?: Uint8Array;
  valid?: Uint8Array;
}

/**
 * The gap loss of a batch as a function of the logits (value and gradient w.r.t. them);
 * `dispose` frees its image and gate tensors.
 */
export function gapLossTerm(cfg: GapLossConfig, batch: GapLossInputs): { term: (logits: tf.Tensor4D) => { value: number; grad: tf.Tensor4D }; dispose: () => void } {
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
  return `Gated CRF (weight ${cfg.weight}, radius ${cfg.radius} px, sigma xy ${cfg.sigmaXY} px, sigma rgb ${cfg.sigmaRGB})`;
}
