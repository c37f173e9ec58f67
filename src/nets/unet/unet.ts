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
import {
  gapHeadSpecs,
  buildFromSpecs,
  convBnRelu,
  disposeNet,
  initialValuesOf,
  isStat,
  valuesOf,
  type BatchStats,
  type Net,
  type TensorSpec,
} from '../network.js';

export { foldBatchNorm, isStat, updateMovingStats, type BatchStats, type TensorSpec } from '../network.js';
import { upsample2x2 } from '../ops.js';

export interface UNetConfig {
  /** Absent in models saved before there was a second network. */
  kind?: 'unet';
  inChannels: number;
  numClasses: number;
  /** Number of 2x down-samplings. Input sides should be multiples of 2^depth. */
  depth: number;
  /** Width of the first level; level i has baseWidth * 2^i channels. */
  baseWidth: number;
  bnEpsilon: number;
  /** Weight of the old value in the moving averages of batch norm (Keras convention). */
  bnMomentum: number;
  /** A gap output for training (network.ts gapHeadSpecs); absent in saved models. */
  gapOutput?: boolean;
}

export const DEFAULT_UNET: Omit<UNetConfig, 'numClasses'> = {
  inChannels: 3,
  depth: 4,
  baseWidth: 16,
  bnEpsilon: 1e-5,
  bnMomentum: 0.9,
};

/** Trainable weights and batch-norm statistics, by Keras-style name ("enc0_conv1/kernel"). */
export type UNet = Net<UNetConfig>;

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
  if (cfg.gapOutput) specs.push(...gapHeadSpecs(w[0]));
  return specs;
}

/** Deterministic initial values: He-normal kernels, zero biases, unit gammas. */
export function initialValues(cfg: UNetConfig, seed: number): Map<string, Float32Array> {
  return initialValuesOf(unetSpecs(cfg), seed);
}

/** Build a U-Net from a config and named values (from init, a checkpoint or a saved model). */
export function buildUNet(cfg: UNetConfig, values: Map<string, Float32Array>): UNet {
  return buildFromSpecs(cfg, unetSpecs(cfg), values);
}

/** A fresh, seeded U-Net. */
export function createUNet(cfg: UNetConfig, seed: number): UNet {
  return buildUNet(cfg, initialValues(cfg, seed));
}

/** Current values of every tensor of the net, by name. */
export async function unetValues(net: UNet): Promise<Map<string, Float32Array>> {
  return valuesOf(net, unetSpecs(net.config));
}

/** Release the net's tensors. */
export function disposeUNet(net: UNet): void {
  disposeNet(net);
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

/** Number of trainable parameters. */
export function parameterCount(cfg: UNetConfig): number {
  return unetSpecs(cfg)
    .filter((s) => !isStat(s))
    .reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
}
