/**
 * The loss: softmax cross-entropy averaged over labelled pixels only, the one training runs.
 *
 * Targets are given as a weighted one-hot tensor: for a labelled pixel of class c the
 * vector is w_c at c and 0 elsewhere; for a void pixel it is all zeros, so void pixels add
 * nothing to the loss and nothing to the gradient. The normaliser (sum of the weights of
 * labelled pixels) is computed on the host from the labels, so a batch with no labelled
 * pixel gives exactly 0 loss and 0 gradients, with no division by zero anywhere.
 * Value and gradient come from one kernel (registered for wasm and cpu when this module loads).
 */
import * as tf from '@tensorflow/tfjs-core';
import { VOID_INDEX } from '../data/classes.js';
import { f32, outputs, registerBoth } from '../engine/kernels/heap.js';
import { WEBGPU, registerTensorKernel } from '../engine/kernels/compose.js';

export const MASKED_SOFTMAX_CE = 'GapsegMaskedSoftmaxCE';

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap };

/** Weighted one-hot targets and their normaliser, built on the host from class indices. */
export interface LossTargets {
  /** [N, H, W, K] weighted one-hot values. */
  oneHot: Float32Array;
  /** Sum of weights over labelled pixels (0 if none). */
  weightSum: number;
  /** Number of labelled pixels. */
  labelled: number;
}

/** Build targets from class indices (VOID_INDEX = unlabelled) and optional per-class weights. */
export function lossTargets(labels: Uint8Array, numClasses: number, classWeights?: number[]): LossTargets {
  const oneHot = new Float32Array(labels.length * numClasses);
  let weightSum = 0;
  let labelled = 0;
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (c === VOID_INDEX) continue;
    if (c >= numClasses) throw new Error(`class index ${c} out of range for ${numClasses} classes`);
    const w = classWeights ? classWeights[c] : 1;
    oneHot[i * numClasses + c] = w;
    weightSum += w;
    labelled++;
  }
  return { oneHot, weightSum, labelled };
}

/**
 * Masked softmax cross-entropy over the last axis. Inputs: logits [..., K] and weighted
 * one-hot targets t (all zero at void pixels); attr scale = 1 / (sum of target weights), 0
 * when nothing is labelled. Outputs: the loss (scalar) and its gradient w.r.t. the logits,
 * scale * (softmax * sum(t) - t), which is exactly 0 at void pixels.
 */
function maskedSoftmaxCE(args: Args): tf.TensorInfo[] {
  const backend = args.backend as tf.KernelBackend;
  const { logits, targets } = args.inputs as Record<string, tf.TensorInfo>;
  const scale = args.attrs.scale as number;
  const k = logits.shape[logits.shape.length - 1];
  const { infos, views } = outputs(backend, [[], logits.shape]);
  const [lossOut, grad] = views;
  const z = f32(backend, logits);
  const t = f32(backend, targets);
  const e = new Float64Array(k);
  let loss = 0;
  for (let i = 0; i < z.length; i += k) {
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = z[i + c] > m ? z[i + c] : m;
    let s = 0;
    let tsum = 0;
    for (let c = 0; c < k; c++) {
      e[c] = Math.exp(z[i + c] - m);
      s += e[c];
      tsum += t[i + c];
    }
    if (tsum === 0) {
      for (let c = 0; c < k; c++) grad[i + c] = 0;
      continue;
    }
    const logS = Math.log(s);
    for (let c = 0; c < k; c++) {
      const tc = t[i + c];
      if (tc !== 0) loss -= tc * (z[i + c] - m - logS);
      grad[i + c] = scale * ((e[c] / s) * tsum - tc);
    }
  }
  lossOut[0] = loss * scale;
  return infos;
}

/**
 * Mean cross-entropy over labelled pixels, -sum(t * log_softmax(logits)) / sum(t), and its
 * gradient w.r.t. the logits. `targets` is the weighted one-hot tensor matching `logits`' shape
 * [..., K], `weightSum` its total (0 when every pixel is void: loss 0, gradient 0).
 */
export function maskedCrossEntropy(logits: tf.Tensor, targets: tf.Tensor, weightSum: number): { loss: tf.Scalar; grad: tf.Tensor } {
  const [loss, grad] = tf
    .engine()
    .runKernel(MASKED_SOFTMAX_CE, { logits, targets }, { scale: weightSum > 0 ? 1 / weightSum : 0 }) as tf.Tensor[];
  return { loss: loss as tf.Scalar, grad };
}

/** The same loss and gradient in ops (WebGPU). */
function maskedSoftmaxCEOps(t: Record<string, tf.Tensor>, attrs: tf.NamedAttrMap): tf.Tensor[] {
  const { logits, targets } = t;
  const scale = attrs.scale as number;
  const logP = tf.logSoftmax(logits);
  const loss = tf.mul(tf.neg(tf.sum(tf.mul(targets, logP))), scale);
  const grad = tf.mul(tf.sub(tf.mul(tf.exp(logP), tf.sum(targets, -1, true)), targets), scale);
  return [loss, grad];
}

registerBoth(MASKED_SOFTMAX_CE, maskedSoftmaxCE as unknown as tf.KernelFunc);
registerTensorKernel(MASKED_SOFTMAX_CE, WEBGPU, maskedSoftmaxCEOps);
