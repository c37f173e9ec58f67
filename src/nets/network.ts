/**
 * What every network of gapseg is: plain data (a config and named tensors: weights the
 * optimiser trains, batch-norm statistics it averages), built from a list of tensor specs.
 * The networks themselves (unet/, mobilenetV2/) define their specs and passes; nets/index.ts
 * dispatches on a config's kind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { concatChannelsOp } from '../engine/kernels/channels.js';
import { makeRng, normal } from '../util/random.js';
import { batchNormReluTrain, convOfConcat, type BnBatchStats } from './ops.js';
import type { LogitsLoss } from '../losses/lossBatch.js';

export type { LogitsLoss };

/** Name and shape of every tensor of a network, in a stable order. */
export interface TensorSpec {
  name: string;
  shape: number[];
  kind: 'kernel' | 'bias' | 'gamma' | 'beta' | 'moving_mean' | 'moving_variance';
  /** fan-in, for initialisation of kernels */
  fanIn: number;
}

/** A network: its config and its tensors by name. */
export interface Net<C extends { bnMomentum: number } = { bnMomentum: number }> {
  config: C;
  /** Trained by the optimiser. */
  params: Record<string, tf.Variable>;
  /** Batch-norm moving statistics, updated by averaging. */
  stats: Record<string, tf.Variable>;
}

/**
 * The gap output's tensors: a 1x1 output beside the class head, on the same last feature map,
 * trained in the softmax on where the gap lies (losses/gapSoftmax.ts). It is never predicted: a
 * saved model leaves it out (training and its checkpoints only).
 */
export function gapHeadSpecs(cin: number): TensorSpec[] {
  return [
    { name: GAP_HEAD.kernel, shape: [1, 1, cin, 1], kind: 'kernel', fanIn: cin },
    { name: GAP_HEAD.bias, shape: [1], kind: 'bias', fanIn: 0 },
  ];
}

/** The gap output's tensor names, the ones a saved model leaves out and --init-from starts fresh. */
export const GAP_HEAD = { kernel: 'gap/kernel', bias: 'gap/bias' } as const;

/** Whether a spec is a batch-norm statistic rather than a trainable weight. */
export function isStat(spec: TensorSpec): boolean {
  return spec.kind === 'moving_mean' || spec.kind === 'moving_variance';
}

/** Deterministic initial values of specs: He-normal kernels, zero biases, unit gammas and variances. */
export function initialValuesOf(specs: TensorSpec[], seed: number): Map<string, Float32Array> {
  const rng = makeRng(seed);
  const values = new Map<string, Float32Array>();
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (s.kind === 'kernel') {
      const std = Math.sqrt(2 / s.fanIn);
      for (let i = 0; i < n; i++) v[i] = normal(rng) * std;
    } else if (s.kind === 'gamma' || s.kind === 'moving_variance') {
      v.fill(1);
    }
    values.set(s.name, v);
  }
  return values;
}

/** A network of these specs from named values (from init, a checkpoint or a saved model). */
export function buildFromSpecs<C extends { bnMomentum: number }>(
  config: C,
  specs: TensorSpec[],
  values: Map<string, Float32Array>,
): Net<C> {
  const params: Record<string, tf.Variable> = {};
  const stats: Record<string, tf.Variable> = {};
  for (const s of specs) {
    const v = values.get(s.name);
    if (!v) throw new Error(`missing weight ${s.name}`);
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (v.length !== n) throw new Error(`weight ${s.name} has ${v.length} values, expected ${n} for shape [${s.shape}]`);
    const variable = tf.variable(tf.tensor(v, s.shape, 'float32'), !isStat(s));
    (isStat(s) ? stats : params)[s.name] = variable;
  }
  return { config, params, stats };
}

/** Current values of the net's tensors of these specs, by name. */
export async function valuesOf(net: Net, specs: TensorSpec[]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const s of specs) {
    const v = net.params[s.name] ?? net.stats[s.name];
    out.set(s.name, (await v.data()) as Float32Array);
  }
  return out;
}

/** Release the net's tensors. */
export function disposeNet(net: Net): void {
  for (const v of Object.values(net.params)) v.dispose();
  for (const v of Object.values(net.stats)) v.dispose();
}

/** Batch statistics seen in a training forward pass, for the moving averages. */
export type BatchStats = Map<string, BnBatchStats>;

/**
 * Fold inference-mode batch norm into the preceding bias-free convolution:
 * kernel' = kernel * s, bias' = beta - mean * s, with s = gamma / sqrt(variance + eps)
 * per output channel. Used for inference here and for the ONNX export.
 */
export function foldBatchNorm(
  kernel: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  eps: number,
): { kernel: tf.Tensor4D; bias: tf.Tensor1D } {
  return tf.tidy(() => {
    const s = tf.div(gamma, tf.sqrt(tf.add(variance, eps)));
    return { kernel: tf.mul(kernel, s) as tf.Tensor4D, bias: tf.sub(beta, tf.mul(mean, s)) as tf.Tensor1D };
  });
}

/**
 * Fold a training step's batch statistics into the moving averages. Variance is the
 * unbiased estimate (n/(n-1)), as PyTorch keeps it.
 */
export function updateMovingStats(net: Net, batchStats: BatchStats): void {
  const m = net.config.bnMomentum;
  tf.tidy(() => {
    for (const [bn, s] of batchStats) {
      const mm = net.stats[`${bn}/moving_mean`];
      const mv = net.stats[`${bn}/moving_variance`];
      const unbiased = tf.mul(s.variance, s.count / Math.max(s.count - 1, 1));
      mm.assign(tf.add(tf.mul(mm, m), tf.mul(s.mean, 1 - m)));
      mv.assign(tf.add(tf.mul(mv, m), tf.mul(unbiased, 1 - m)));
    }
  });
  for (const s of batchStats.values()) {
    s.mean.dispose();
    s.variance.dispose();
  }
  batchStats.clear();
}

/** Read a step's loss and free it: asynchronously, since WebGPU has no synchronous read in Node. */
export async function lossValue(loss: tf.Scalar): Promise<number> {
  try {
    return (await loss.data())[0];
  } finally {
    loss.dispose();
  }
}

export interface StepGradients {
  /** The batch's loss, a scalar the caller reads and frees (lossValue). */
  loss: tf.Scalar;
  /** Gradient per trainable parameter name. */
  grads: Record<string, tf.Tensor>;
  /** Batch mean and variance of every BN layer, for the moving averages. */
  batchStats: BatchStats;
}

/**
 * A 3x3 'same' convolution (of the concatenation when x is a pair), batch norm and ReLU: the
 * level block of both U-Nets' decoders (and of the U-Net's encoder), with tensors named
 * `{level}_conv{n}/kernel` and `{level}_bn{n}/...`. Training uses batch statistics (recorded in
 * batchStats); inference folds batch norm into the convolution, bias and ReLU fused into one kernel.
 */
export function convBnRelu(
  net: Net<{ bnMomentum: number; bnEpsilon: number }>,
  x: tf.Tensor4D | [tf.Tensor4D, tf.Tensor4D],
  level: string,
  n: number,
  training: boolean,
  batchStats: BatchStats | null,
): tf.Tensor4D {
  const { params, stats, config } = net;
  const kernel = params[`${level}_conv${n}/kernel`] as tf.Tensor4D;
  const bn = `${level}_bn${n}`;
  const gamma = params[`${bn}/gamma`] as tf.Tensor1D;
  const beta = params[`${bn}/beta`] as tf.Tensor1D;
  if (training) {
    const y = Array.isArray(x) ? convOfConcat(x[0], x[1], kernel) : tf.conv2d(x, kernel, 1, 'same');
    return batchNormReluTrain(y, gamma, beta, config.bnEpsilon, batchStats ? (s) => batchStats.set(bn, s) : undefined);
  }
  const input = Array.isArray(x) ? (concatChannelsOp(x[0], x[1]) as tf.Tensor4D) : x;
  const folded = foldBatchNorm(
    kernel,
    gamma,
    beta,
    stats[`${bn}/moving_mean`] as tf.Tensor1D,
    stats[`${bn}/moving_variance`] as tf.Tensor1D,
    config.bnEpsilon,
  );
  return tf.fused.conv2d({ x: input, filter: folded.kernel, strides: 1, pad: 'same', bias: folded.bias, activation: 'relu' });
}
