/**
 * The optional loss on the unlabelled gap. Cross-entropy on labelled pixels says nothing about
 * the gap; these losses do:
 *  - 'crf', the Gated CRF loss (gatedCrf.ts): on every pixel inside the image, a pull of
 *    neighbouring pixels of similar colour towards the same class;
 *  - 'crf-targets': inside the gap, cross-entropy towards the fully connected CRF's refinement
 *    of the network's own prediction (crf/denseCrf.ts, the mean field of `predict --refine crf`,
 *    held fixed: no gradient through it), as Kolesnikov and Lampert's constrain-to-boundary loss
 *    (SEC, ECCV 2016) does on all pixels;
 *  - 'mean-teacher': self-training, the confident predictions of a weight-averaged teacher on
 *    the flipped crop become the gap's targets;
 *  - 'uncertain': inside the gap, cross-entropy towards even odds over the classes labelled in
 *    the crop. What nobody labelled is taught as undecided, not left to the network's
 *    extrapolation from either side (which tends to carry one side's class across the gap); the
 *    frontier falls where the two sides' evidence balances, and a refinement at prediction
 *    time (predict --refine crf) can move it onto the image's edges. It is the pull that the
 *    void-as-a-class fix exerts on the real classes inside the gap (there the void target's
 *    gradient lowers each class's logit by its probability), without a void output;
 *  - 'ramp': inside the gap, targets that pass from one side's class to the other's with the
 *    distance to each (a class's share is the inverse of its distance to its nearest labelled
 *    pixel in the crop): the frontier halfway across the gap, the probabilities ramping over
 *    it. Trained as a class, void teaches both real classes to end where their labels end, so
 *    their scores cross midway; this teaches the crossing itself, without a void output.
 * The first two put the frontier on the image's own edges rather than wherever the network's
 * smoothness puts it. Colour is the augmented crop's own RGB (what the network sees, before the
 * mean/std normalisation); the gate is the crop's validity mask (0 on padding outside the image).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GATED_CRF, type GatedCrfParams } from './gatedCrf.js';
import { DEFAULT_DENSE_CRF, refineDenseCrf, type DenseCrfParams } from '../crf/denseCrf.js';
import { softmaxPixels } from '../util/softmax.js';
import { squaredDistanceTo } from '../data/gaps.js';

/** A regulariser of the gap, as stored in config.json. */
export interface CrfGapLoss extends GatedCrfParams {
  kind: 'crf';
}
/** CRF targets in the gap: cross-entropy over gap pixels, each weighing `weight` labelled pixels. */
export interface CrfTargetsGapLoss extends DenseCrfParams {
  kind: 'crf-targets';
  weight: number;
}
/**
 * Self-training in the gap: targets from a teacher, the exponential moving average of the
 * network's weights (Tarvainen and Valpola 2017), on the horizontally flipped crop, where its
 * top probability reaches `confidence`.
 */
export interface MeanTeacherGapLoss {
  kind: 'mean-teacher';
  weight: number;
  /** The teacher's weights move this much of the way to the student's per step: 1 - ema. */
  ema: number;
  confidence: number;
}
/**
 * A band output trained on where the gap lies (bandLoss.ts): the network learns the band as
 * the void-as-a-class fix teaches it, but on a head of its own that no class decision sees.
 */
export interface BandGapLoss {
  kind: 'band';
  weight: number;
  /**
   * The band logit joins the classes' softmax during training (the void-as-a-class fix's loss:
   * a gap pixel's target is the band, a labelled pixel's its class against the band too), and
   * is still left out of the saved model, so nothing can predict it.
   */
  softmax?: boolean;
}
/** Even odds in the gap: each gap pixel weighs `weight` labelled pixels. */
export interface UncertainGapLoss {
  kind: 'uncertain';
  weight: number;
}
/**
 * Distance-ramp targets in the gap: each gap pixel weighs `weight` labelled pixels. With `crf`,
 * the ramp is the unary of a dense CRF over the crop's colours (the labelled pixels held by
 * theirs), so the targets' crossing moves from the gap's middle onto the image's edges.
 */
export interface RampGapLoss {
  kind: 'ramp';
  weight: number;
  crf?: DenseCrfParams;
}
export type GapLossConfig = CrfGapLoss | CrfTargetsGapLoss | MeanTeacherGapLoss | UncertainGapLoss | BandGapLoss | RampGapLoss;

/** Settings of the mean teacher. */
export const DEFAULT_MEAN_TEACHER: MeanTeacherGapLoss = { kind: 'mean-teacher', weight: 0.5, ema: 0.99, confidence: 0.7 };

/** Settings of `--gap-loss band`: a pixel's band loss weighs as much as a labelled pixel's cross-entropy. */
export const DEFAULT_BAND: BandGapLoss = { kind: 'band', weight: 1 };

/** Settings of `--gap-loss uncertain`. */
export const DEFAULT_UNCERTAIN: UncertainGapLoss = { kind: 'uncertain', weight: 0.5 };

/** Settings of `--gap-loss ramp`: a gap pixel weighs as much as a labelled pixel. */
export const DEFAULT_RAMP: RampGapLoss = { kind: 'ramp', weight: 1 };

/** Share of training over which the self-referential gap losses ramp up from 0. */
const RAMP_UP = 0.5;

/**
 * The gap loss at `progress` (0..1) of training. The losses whose targets come from the network
 * itself (crf-targets, mean-teacher) start at weight 0 and reach theirs halfway, as consistency
 * losses do (Laine and Aila 2017): an untrained network's targets are its own guesses, and at
 * full weight from the start they taught the gap "background" until no smoke was left.
 */
export function gapLossAt(cfg: GapLossConfig | null, progress: number): GapLossConfig | null {
  if (!cfg || cfg.kind === 'crf' || cfg.kind === 'uncertain' || cfg.kind === 'band' || cfg.kind === 'ramp') return cfg;
  return { ...cfg, weight: cfg.weight * Math.min(1, Math.max(0, progress) / RAMP_UP) };
}

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
  targets?: { oneHot: Float32Array; weightSum?: number };
}

type GapTerm = { term: (logits: tf.Tensor4D) => { value: number; grad: tf.Tensor4D }; dispose: () => void };

/** Pixels of the batch inside their crop with no target: the gap. */
export function gapPixels(batch: GapLossInputs): { gap: Uint8Array; k: number } {
  const { n, height: h, width: w } = batch;
  const oneHot = batch.targets?.oneHot;
  if (!oneHot || oneHot.length % (n * h * w) !== 0) throw new Error('gap loss: the batch carries no targets of the right size');
  const k = oneHot.length / (n * h * w);
  const gap = new Uint8Array(n * h * w);
  for (let i = 0; i < gap.length; i++) {
    if (batch.valid && !batch.valid[i]) continue;
    let s = 0;
    for (let c = 0; c < k; c++) s += oneHot[i * k + c];
    if (s === 0) gap[i] = 1;
  }
  return { gap, k };
}

/**
 * The cross-entropy towards soft targets over the gap pixels whose target's top probability
 * reaches `confidence`, each pixel weighing `weight` labelled pixels of weight 1 (the sum is
 * divided by the batch's labelled weight, as the cross-entropy is; by the pixels used when
 * nothing is labelled). targets(b, probs) gives crop b's HWC targets from its softmax; they
 * are held fixed: the gradient is weight (p - q) / that sum.
 */
function softTargetsTerm(weight: number, batch: GapLossInputs, targets: (b: number, probs: Float32Array) => Float32Array, confidence = 0): GapTerm {
  const { n, height: h, width: w } = batch;
  const hw = h * w;
  const { gap, k } = gapPixels(batch);
  const anyGap = (b: number) => gap.subarray(b * hw, (b + 1) * hw).includes(1);
  return {
    term: (logits) => {
      const grad = new Float32Array(n * hw * k);
      const z = weight === 0 || !gap.includes(1) ? null : logits.dataSync();
      const probs = new Float32Array(hw * k);
      let value = 0;
      let count = 0;
      for (let b = 0; z && b < n; b++) {
        if (!anyGap(b)) continue;
        const base = b * hw;
        softmaxPixels(z, base * k, probs, 0, hw, k);
        const q = targets(b, probs);
        for (let i = 0; i < hw; i++) {
          if (!gap[base + i]) continue;
          let top = 0;
          for (let c = 0; c < k; c++) top = Math.max(top, q[i * k + c]);
          if (top < confidence) continue;
          count++;
          for (let c = 0; c < k; c++) {
            const p = probs[i * k + c];
            value -= q[i * k + c] * Math.log(Math.max(p, 1e-12));
            grad[(base + i) * k + c] = p - q[i * k + c];
          }
        }
      }
      const labelled = batch.targets?.weightSum ?? 0;
      const scale = count ? weight / (labelled > 0 ? labelled : count) : 0;
      for (let i = 0; i < grad.length; i++) grad[i] *= scale;
      return { value: value * scale, grad: tf.tensor4d(grad, logits.shape) };
    },
    dispose: () => undefined,
  };
}

/** CRF targets: the dense CRF of each crop's own prediction over its colours. */
function crfTargetsTerm(cfg: CrfTargetsGapLoss, batch: GapLossInputs): GapTerm {
  const { n, height: h, width: w } = batch;
  const hw = h * w;
  const rgb = batch.rgb;
  if (!rgb || rgb.length !== n * hw * 3) throw new Error('gap loss: the batch carries no crop RGB of the right size');
  const k = (batch.targets?.oneHot.length ?? 0) / (n * hw);
  const classes = [...Array(k).keys()];
  return softTargetsTerm(cfg.weight, batch, (b, probs) => refineDenseCrf({ width: w, height: h, rgb: rgb.subarray(b * hw * 3, (b + 1) * hw * 3), probs, numClasses: k }, classes, cfg));
}

/** Mean-teacher targets: the teacher's probabilities of the batch, where confident. */
function teacherTerm(cfg: MeanTeacherGapLoss, batch: GapLossInputs, teacher: Float32Array | undefined): GapTerm {
  const hw = batch.height * batch.width;
  const k = (batch.targets?.oneHot.length ?? 0) / (batch.n * hw);
  if (!teacher || teacher.length !== batch.n * hw * k) throw new Error('gap loss: mean teacher without the teacher\'s probabilities of the batch');
  return softTargetsTerm(cfg.weight, batch, (b) => teacher.subarray(b * hw * k, (b + 1) * hw * k), cfg.confidence);
}

/** 1 per class with a labelled pixel (a non-zero weighted one-hot entry) in a crop's HWC targets. */
function labelledClasses(oneHot: Float32Array, k: number): Uint8Array {
  const present = new Uint8Array(k);
  for (let i = 0; i < oneHot.length; i++) if (oneHot[i] > 0) present[i % k] = 1;
  return present;
}

/** Even-odds targets: uniform over the classes labelled somewhere in the crop (all classes when none is). */
function uncertainTerm(cfg: UncertainGapLoss, batch: GapLossInputs): GapTerm {
  const hw = batch.height * batch.width;
  const oneHot = batch.targets?.oneHot ?? new Float32Array(0);
  const k = oneHot.length / (batch.n * hw);
  return softTargetsTerm(cfg.weight, batch, (b) => {
    const present = labelledClasses(oneHot.subarray(b * hw * k, (b + 1) * hw * k), k);
    const count = present.reduce((a, v) => a + v, 0);
    const row = Float32Array.from(present, (v) => (count === 0 ? 1 / k : v / count));
    const q = new Float32Array(hw * k);
    for (let i = 0; i < hw; i++) q.set(row, i * k);
    return q;
  });
}

/**
 * One crop's ramp targets [h*w*k] from its one-hot targets: per pixel, each class labelled in
 * the crop gets the inverse of its distance to its nearest labelled pixel, normalised (two
 * classes: d_other / (d_own + d_other)); a crop with no label gets even odds. Labelled pixels
 * get their own class.
 */
export function rampTargets(oneHot: Float32Array, width: number, height: number, k: number): Float32Array {
  const hw = width * height;
  const q = new Float32Array(hw * k);
  const present = labelledClasses(oneHot, k);
  const inverse = Array.from({ length: k }, (_, c) =>
    present[c] ? squaredDistanceTo((i) => oneHot[i * k + c] > 0, width, height).map((d2) => (d2 === 0 ? Infinity : 1 / Math.sqrt(d2))) : null,
  );
  for (let i = 0; i < hw; i++) {
    let sum = 0;
    let own = -1;
    for (let c = 0; c < k; c++) {
      const v = inverse[c]?.[i] ?? 0;
      if (v === Infinity) own = c;
      sum += v;
    }
    for (let c = 0; c < k; c++) q[i * k + c] = own >= 0 ? (c === own ? 1 : 0) : sum > 0 ? (inverse[c]?.[i] ?? 0) / sum : 1 / k;
  }
  return q;
}

/** Ramp targets: from each crop's own labels. */
function rampTerm(cfg: RampGapLoss, batch: GapLossInputs): GapTerm {
  const { n, height: h, width: w } = batch;
  const hw = h * w;
  const oneHot = batch.targets?.oneHot ?? new Float32Array(0);
  const k = oneHot.length / (n * hw);
  const rgb = batch.rgb;
  const crf = cfg.crf;
  if (crf && (!rgb || rgb.length !== n * hw * 3)) throw new Error('gap loss: the batch carries no crop RGB of the right size');
  const classes = [...Array(k).keys()];
  return softTargetsTerm(cfg.weight, batch, (b) => {
    const ramp = rampTargets(oneHot.subarray(b * hw * k, (b + 1) * hw * k), w, h, k);
    return crf && rgb ? refineDenseCrf({ width: w, height: h, rgb: rgb.subarray(b * hw * 3, (b + 1) * hw * 3), probs: ramp, numClasses: k }, classes, crf) : ramp;
  });
}

/**
 * The gap loss of a batch as a function of the logits (value and gradient w.r.t. them);
 * `dispose` frees its image and gate tensors.
 */
export function gapLossTerm(cfg: GapLossConfig, batch: GapLossInputs, teacher?: Float32Array): GapTerm {
  if (cfg.kind === 'crf-targets') return crfTargetsTerm(cfg, batch);
  if (cfg.kind === 'mean-teacher') return teacherTerm(cfg, batch, teacher);
  if (cfg.kind === 'uncertain') return uncertainTerm(cfg, batch);
  if (cfg.kind === 'ramp') return rampTerm(cfg, batch);
  if (cfg.kind === 'band') throw new Error('gap loss: the band loss acts on the band head (bandLoss.ts), not on the class logits');
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
  if (cfg.kind === 'band' && cfg.softmax) return `a band output in the classes' softmax during training, the gap its target (weight ${cfg.weight}; the void-as-a-class loss), kept out of the saved model`;
  if (cfg.kind === 'band') return `a band output trained on where the gap lies (weight ${cfg.weight}; binary cross-entropy on every pixel inside the crop; kept out of the classes and of the saved model)`;
  if (cfg.kind === 'ramp') {
    const crf = cfg.crf ? `, moved onto the crop's colour edges by a dense CRF (${cfg.crf.iterations} iterations, appearance ${cfg.crf.appearanceWeight} at sigma xy ${cfg.crf.sigmaXY} px, rgb ${cfg.crf.sigmaRGB})` : '';
    return `distance ramp in the gap (weight ${cfg.weight}: cross-entropy towards targets passing from one side's class to the other's, halfway across${crf})`;
  }
  if (cfg.kind === 'uncertain') return `even odds in the gap (weight ${cfg.weight}: cross-entropy towards equal probabilities of the classes labelled in the crop)`;
  if (cfg.kind === 'mean-teacher') return `mean teacher in the gap (weight ${cfg.weight}, weights averaged with ${cfg.ema} per step, targets where the teacher's top probability reaches ${cfg.confidence}, teacher on the flipped crop)`;
  if (cfg.kind === 'crf-targets') {
    return `CRF targets in the gap (weight ${cfg.weight}; dense CRF: ${cfg.iterations} iterations, appearance ${cfg.appearanceWeight} at sigma xy ${cfg.sigmaXY} px, rgb ${cfg.sigmaRGB}; smoothness ${cfg.smoothnessWeight} at ${cfg.smoothnessXY} px)`;
  }
  return `Gated CRF (weight ${cfg.weight}, radius ${cfg.radius} px, sigma xy ${cfg.sigmaXY} px, sigma rgb ${cfg.sigmaRGB})`;
}
