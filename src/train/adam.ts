/**
 * Adam with decoupled weight decay (AdamW when weightDecay > 0), with PyTorch's update
 * formula, so that gapseg and the PyTorch reference train alike. Its state is plain named
 * tensors, saved in checkpoints for exact resumption.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ADAM_UPDATE } from '../engine/kernels/adam.js';

export interface AdamState {
  /** Updates applied (steps of the optimiser). */
  step: number;
  /**
   * Updates each parameter has received, where that differs from `step`: a parameter frozen
   * for a while starts its bias correction when it first trains, as in PyTorch's Adam.
   */
  paramSteps: Record<string, number>;
  m: Record<string, tf.Variable>;
  v: Record<string, tf.Variable>;
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** Zero-initialised state for these parameters. */
export function createAdamState(params: Record<string, tf.Variable>): AdamState {
  const m: Record<string, tf.Variable> = {};
  const v: Record<string, tf.Variable> = {};
  for (const [k, p] of Object.entries(params)) {
    m[k] = tf.variable(tf.zerosLike(p), false);
    v[k] = tf.variable(tf.zerosLike(p), false);
  }
  return { step: 0, paramSteps: {}, m, v };
}

/**
 * Apply one Adam update to the parameters that have a gradient in `grads` (frozen ones have
 * none and stay), one fused kernel per parameter; `lrScale` scales a parameter's learning rate
 * (a pretrained encoder's, lower than the decoder's).
 */
export function adamUpdate(
  params: Record<string, tf.Variable>,
  grads: Record<string, tf.Tensor>,
  state: AdamState,
  h: AdamHyper,
  lrScale: (name: string) => number = () => 1,
): void {
  const before = state.step;
  state.step += 1;
  for (const [k, p] of Object.entries(params)) {
    const g = grads[k];
    if (!g) {
      // Frozen this step: it keeps the count it had.
      state.paramSteps[k] ??= before;
      continue;
    }
    const t = (state.paramSteps[k] ?? before) + 1;
    if (t !== state.step) state.paramSteps[k] = t;
    else delete state.paramSteps[k];
    const lr = h.lr * lrScale(k);
    const attrs = {
      beta1: h.beta1,
      beta2: h.beta2,
      stepSize: lr / (1 - h.beta1 ** t),
      invSqrtBc2: 1 / Math.sqrt(1 - h.beta2 ** t),
      eps: h.eps,
      lrWd: lr * h.weightDecay,
    };
    const m = state.m[k];
    const v = state.v[k];
    const [p2, m2, v2] = tf.engine().runKernel(ADAM_UPDATE, { p, g, m, v }, attrs) as tf.Tensor[];
    p.assign(p2);
    m.assign(m2);
    v.assign(v2);
    tf.dispose([p2, m2, v2]);
  }
}

/** Release the optimiser state. */
export function disposeAdamState(state: AdamState): void {
  for (const x of Object.values(state.m)) x.dispose();
  for (const x of Object.values(state.v)) x.dispose();
}
