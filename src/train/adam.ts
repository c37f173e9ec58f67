/**
 * Adam with decoupled weight decay (AdamW when weightDecay > 0), with PyTorch's update
 * formula, so that gapseg and the PyTorch reference train alike. Its state is plain named
 * tensors, saved in checkpoints for exact resumption.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamState {
  step: number;
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
  return { step: 0, m, v };
}

/** Apply one Adam update to `params` from `grads` (same names). */
export function adamUpdate(params: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>, state: AdamState, h: AdamHyper): void {
  state.step += 1;
  const t = state.step;
  const bc1 = 1 - h.beta1 ** t;
  const bc2 = 1 - h.beta2 ** t;
  const stepSize = h.lr / bc1;
  const sqrtBc2 = Math.sqrt(bc2);
  tf.tidy(() => {
    for (const [k, p] of Object.entries(params)) {
      const g = grads[k];
      if (!g) throw new Error(`adamUpdate: no gradient for ${k}`);
      const m = state.m[k];
      const v = state.v[k];
      m.assign(tf.add(tf.mul(m, h.beta1), tf.mul(g, 1 - h.beta1)));
      v.assign(tf.add(tf.mul(v, h.beta2), tf.mul(tf.square(g), 1 - h.beta2)));
      const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), h.eps);
      let next = tf.sub(p, tf.mul(tf.div(m, denom), stepSize));
      if (h.weightDecay > 0) next = tf.sub(next, tf.mul(p, h.lr * h.weightDecay));
      p.assign(next);
    }
  });
}

/** Release the optimiser state. */
export function disposeAdamState(state: AdamState): void {
  for (const x of Object.values(state.m)) x.dispose();
  for (const x of Object.values(state.v)) x.dispose();
}
