/**
 * The U-Net: per level two 3x3 convolutions (no bias) each followed by batch norm and ReLU,
 * 2x2 max-pooling down, 2x2 stride-2 transposed convolutions up, skip concatenation, and a
 * 1x1 head with exactly one output per real class. Void has no channel: no prediction can
 * ever be void.
 *
 * The network is plain data (a config and named tensors) and a forward function written in
 * tfjs-core ops, NHWC. Parameter names follow the Keras layer/weight naming used by the
 * TensorFlow.js layers format, so export is a renaming-free copy.
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeRng, normal } from '../../util/random.js';
import { batchNormReluTrain, convOfConcat, upsample2x2, type BnBatchStats } from '../ops.js';
import { concatChannelsOp } from '../../engine/kernels/channels.js';

export interface UNetConfig {
  inChannels: number;
  numClasses: number;
  /** Number of 2x down-samplings. Input sides should be multiples of 2^depth. */
  depth: number;
  /** Width of the first level; level i has baseWidth * 2^i channels. */
  baseWidth: number;
  bnEpsilon: number;
  /** Weight of the old value in the moving averages of batch norm (Keras convention). */
  bnMomentum: number;
}

export const DEFAULT_UNET: Omit<UNetConfig, 'numClasses'> = {
  inChannels: 3,
  depth: 4,
  baseWidth: 16,
  bnEpsilon: 1e-5,
  bnMomentum: 0.9,
};

/** Trainable weights and batch-norm statistics, by Keras-style name ("enc0_conv1/kernel"). */
export interface UNet {
  config: UNetConfig;
  /** Trained by the optimiser. */
  params: Record<string, tf.Variable>;
  /** Batch-norm moving statistics, updated by averaging. */
  stats: Record<string, tf.Variable>;
}

/** Name and shape of every tensor of a U-Net, in a stable order. */
export interface TensorSpec {
  name: string;
  shape: number[];
  kind: 'kernel' | 'bias' | 'gamma' | 'beta' | 'moving_mean' | 'moving_variance';
  /** fan-in, for initialisation of kernels */
  fanIn: number;
}

/** Channel widths of the encoder levels (the bottleneck is baseWidth * 2^depth). */
export function levelWidths(cfg: UNetConfig): number[] {
  return Array.from({ length: cfg.depth + 1 }, (_, i) => cfg.baseWidth * 2 ** i);
}

/** The conv+bn blocks of the net: [prefix, inChannels, outChannels]. */
function convBlocks(cfg: UNetConfig): [string, number, number][] {
  const w = levelWidths(cfg);
  const blocks: [string, number, number][] = [];
  let cin = cfg.inChannels;
  for (let i = 0; i < cfg.depth; i++) {
    blocks.push([`enc${i}_1`, cin, w[i]], [`enc${i}_2`, w[i], w[i]]);
    cin = w[i];
  }
  blocks.push([`mid_1`, cin, w[cfg.depth]], [`mid_2`, w[cfg.depth], w[cfg.depth]]);
  for (let i = cfg.depth - 1; i >= 0; i--) {
    blocks.push([`dec${i}_1`, 2 * w[i], w[i]], [`dec${i}_2`, w[i], w[i]]);
  }
  return blocks;
}

/** All tensor specs of a config, in the order of the forward pass. */
export function unetSpecs(cfg: UNetConfig): TensorSpec[] {
  const w = levelWidths(cfg);
  const specs: TensorSpec[] = [];
  const conv = (prefix: string, cin: number, cout: number) => {
    const [level, n] = prefix.split('_');
    specs.push({ name: `${level}_conv${n}/kernel`, shape: [3, 3, cin, cout], kind: 'kernel', fanIn: 9 * cin });
    for (const kind of ['gamma', 'beta', 'moving_mean', 'moving_variance'] as const) {
      specs.push({ name: `${level}_bn${n}/${kind}`, shape: [cout], kind, fanIn: 0 });
    }
  };
  for (const [prefix, cin, cout] of convBlocks(cfg)) {
    const level = prefix.split('_')[0];
    if (level.startsWith('dec') && prefix.endsWith('_1')) {
      const i = Number(level.slice(3));
      // The transposed conv that brings the level below up to this level's width.
      specs.push({ name: `${level}_up/kernel`, shape: [2, 2, w[i], w[i + 1]], kind: 'kernel', fanIn: w[i + 1] });
      specs.push({ name: `${level}_up/bias`, shape: [w[i]], kind: 'bias', fanIn: 0 });
    }
    conv(prefix, cin, cout);
  }
  specs.push({ name: 'head/kernel', shape: [1, 1, w[0], cfg.numClasses], kind: 'kernel', fanIn: w[0] });
  specs.push({ name: 'head/bias', shape: [cfg.numClasses], kind: 'bias', fanIn: 0 });
  return specs;
}

/** Whether a spec is a batch-norm statistic rather than a trainable weight. */
export function isStat(spec: TensorSpec): boolean {
  return spec.kind === 'moving_mean' || spec.kind === 'moving_variance';
}

/** Deterministic initial values: He-normal kernels, zero biases, unit gammas. */
export function initialValues(cfg: UNetConfig, seed: number): Map<string, Float32Array> {
  const rng = makeRng(seed);
  const values = new Map<string, Float32Array>();
  for (const s of unetSpecs(cfg)) {
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

/** Build a U-Net from a config and named values (from init, a checkpoint or a saved model). */
export function buildUNet(cfg: UNetConfig, values: Map<string, Float32Array>): UNet {
  const params: Record<string, tf.Variable> = {};
  const stats: Record<string, tf.Variable> = {};
  for (const s of unetSpecs(cfg)) {
    const v = values.get(s.name);
    if (!v) throw new Error(`missing weight ${s.name}`);
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (v.length !== n) throw new Error(`weight ${s.name} has ${v.length} values, expected ${n} for shape [${s.shape}]`);
    const variable = tf.variable(tf.tensor(v, s.shape, "float32"), !isStat(s));
    (isStat(s) ? stats : params)[s.name] = variable;
  }
  return { config: cfg, params, stats };
}

/** A fresh, seeded U-Net. */
export function createUNet(cfg: UNetConfig, seed: number): UNet {
  return buildUNet(cfg, initialValues(cfg, seed));
}

/** Current values of every tensor of the net, by name. */
export async function unetValues(net: UNet): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const s of unetSpecs(net.config)) {
    const v = net.params[s.name] ?? net.stats[s.name];
    out.set(s.name, (await v.data()) as Float32Array);
  }
  return out;
}

/** Release the net's tensors. */
export function disposeUNet(net: UNet): void {
  for (const v of Object.values(net.params)) v.dispose();
  for (const v of Object.values(net.stats)) v.dispose();
}

/** Batch statistics seen in a training forward pass, for the moving averages. */
export type BatchStats = Map<string, BnBatchStats>;

function convBnRelu(
  net: UNet,
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
  // Inference: batch norm folded into the convolution, bias and ReLU fused into one kernel.
  const input = Array.isArray(x) ? (concatChannelsOp(x[0], x[1]) as tf.Tensor4D) : x;
  const folded = foldBatchNorm(kernel, gamma, beta, stats[`${bn}/moving_mean`] as tf.Tensor1D, stats[`${bn}/moving_variance`] as tf.Tensor1D, config.bnEpsilon);
  return tf.fused.conv2d({ x: input, filter: folded.kernel, strides: 1, pad: 'same', bias: folded.bias, activation: 'relu' });
}

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
 * Forward pass: NHWC input (normalised), NHWC logits with numClasses channels.
 * In training mode batch norm uses batch statistics and, if `batchStats` is given, records
 * them there (kept tensors, to be released by the caller).
 */
export function unetForward(net: UNet, x: tf.Tensor4D, training: boolean, batchStats: BatchStats | null = null): tf.Tensor4D {
  return tf.tidy(() => {
    const { config: cfg, params } = net;
    const skips: tf.Tensor4D[] = [];
    let h = x;
    for (let i = 0; i < cfg.depth; i++) {
      h = convBnRelu(net, h, `enc${i}`, 1, training, batchStats);
      h = convBnRelu(net, h, `enc${i}`, 2, training, batchStats);
      skips.push(h);
      h = tf.maxPool(h, 2, 2, 'valid');
    }
    h = convBnRelu(net, h, 'mid', 1, training, batchStats);
    h = convBnRelu(net, h, 'mid', 2, training, batchStats);
    for (let i = cfg.depth - 1; i >= 0; i--) {
      const up = upsample2x2(h, params[`dec${i}_up/kernel`] as tf.Tensor4D, params[`dec${i}_up/bias`] as tf.Tensor1D);
      // The decoder's first conv reads the concatenation [up, skip].
      h = convBnRelu(net, [up, skips[i]], `dec${i}`, 1, training, batchStats);
      h = convBnRelu(net, h, `dec${i}`, 2, training, batchStats);
    }
    const logits = tf.conv2d(h, params['head/kernel'] as tf.Tensor4D, 1, 'same');
    return tf.add(logits, params['head/bias']) as tf.Tensor4D;
  });
}

/**
 * Fold a training step's batch statistics into the moving averages. Variance is the
 * unbiased estimate (n/(n-1)), as PyTorch keeps it.
 */
export function updateMovingStats(net: UNet, batchStats: BatchStats): void {
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

/** Number of trainable parameters. */
export function parameterCount(cfg: UNetConfig): number {
  return unetSpecs(cfg)
    .filter((s) => !isStat(s))
    .reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
}
