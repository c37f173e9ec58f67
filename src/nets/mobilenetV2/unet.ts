/**
 * A U-Net decoder on the MobileNetV2 encoder (as segmentation_models_pytorch's Unet with a
 * mobilenet_v2 encoder): from the stride-32 tap up, each decoder level upsamples by a 2x2
 * stride-2 transposed convolution, reads the concatenation with the tap of its stride (none at
 * stride 1), and applies two 3x3 convolutions with batch norm and ReLU; a 1x1 head gives one
 * output per real class (void has none). Input sides are multiples of 32.
 *
 * Training has its own hand-written pass (backprop.ts); the forward here is what prediction runs,
 * and in training mode (batch statistics) the tests' autodiff reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import { upsample2x2 } from '../ops.js';
import {
  gapHeadSpecs,
  buildFromSpecs,
  convBnRelu,
  initialValuesOf,
  valuesOf,
  type BatchStats,
  type Net,
  type TensorSpec,
} from '../network.js';
import { encoderForward, encoderReceptiveRadius, encoderSpecs, tapChannels } from './encoder.js';

export interface MobileUNetConfig {
  kind: 'mobilenet_v2_unet';
  inChannels: number;
  numClasses: number;
  /** Widths of the decoder levels at strides 16, 8, 4, 2 and 1. */
  decoderWidths: number[];
  bnEpsilon: number;
  bnMomentum: number;
  /** A gap output for training (network.ts gapHeadSpecs); absent in saved models. */
  gapOutput?: boolean;
}

export const DEFAULT_MOBILE_UNET: Omit<MobileUNetConfig, 'numClasses'> = {
  kind: 'mobilenet_v2_unet',
  inChannels: 3,
  decoderWidths: [128, 64, 48, 32, 16],
  bnEpsilon: 1e-5,
  bnMomentum: 0.9,
};

export type MobileUNet = Net<MobileUNetConfig>;

/** Input sides must be multiples of this. */
export const MOBILE_MULTIPLE = 32;

/** The decoder's tensors; level j reads tap 3 - j (stride 16 first), the last level none. */
export function decoderSpecs(cfg: MobileUNetConfig): TensorSpec[] {
  const taps = tapChannels();
  const specs: TensorSpec[] = [];
  let cin = taps[4];
  cfg.decoderWidths.forEach((w, j) => {
    const skip = j < 4 ? taps[3 - j] : 0;
    specs.push(
      { name: `dec${j}_up/kernel`, shape: [2, 2, w, cin], kind: 'kernel', fanIn: cin },
      { name: `dec${j}_up/bias`, shape: [w], kind: 'bias', fanIn: 0 },
    );
    for (const [n, ci] of [
      [1, w + skip],
      [2, w],
    ] as const) {
      specs.push({ name: `dec${j}_conv${n}/kernel`, shape: [3, 3, ci, w], kind: 'kernel', fanIn: 9 * ci });
      for (const kind of ['gamma', 'beta', 'moving_mean', 'moving_variance'] as const)
        specs.push({ name: `dec${j}_bn${n}/${kind}`, shape: [w], kind, fanIn: 0 });
    }
    cin = w;
  });
  specs.push(
    { name: 'head/kernel', shape: [1, 1, cin, cfg.numClasses], kind: 'kernel', fanIn: cin },
    { name: 'head/bias', shape: [cfg.numClasses], kind: 'bias', fanIn: 0 },
  );
  if (cfg.gapOutput) specs.push(...gapHeadSpecs(cin));
  return specs;
}

/** All tensors: the encoder's, then the decoder's. */
export function mobileUNetSpecs(cfg: MobileUNetConfig): TensorSpec[] {
  return [...encoderSpecs(cfg.inChannels), ...decoderSpecs(cfg)];
}

/** Whether a parameter belongs to the encoder (pretrained, trained at a lower rate or frozen). */
export function isEncoderParam(name: string): boolean {
  return name.startsWith('enc_');
}

/**
 * Initial values: the encoder's from `encoder` (pretrained weights by name) when given, else
 * He-normal like the decoder's (random weights, for speed measurements).
 */
export function mobileUNetValues(cfg: MobileUNetConfig, seed: number, encoder?: Map<string, Float32Array>): Map<string, Float32Array> {
  const values = initialValuesOf(mobileUNetSpecs(cfg), seed);
  if (encoder) {
    for (const s of encoderSpecs(cfg.inChannels)) {
      const v = encoder.get(s.name);
      if (!v) throw new Error(`pretrained encoder weights lack ${s.name}`);
      values.set(s.name, v);
    }
  }
  return values;
}

/** Build the network from named values. */
export function buildMobileUNet(cfg: MobileUNetConfig, values: Map<string, Float32Array>): MobileUNet {
  return buildFromSpecs(cfg, mobileUNetSpecs(cfg), values);
}

/** Current values of every tensor, by name. */
export function mobileUNetValuesOf(net: MobileUNet): Promise<Map<string, Float32Array>> {
  return valuesOf(net, mobileUNetSpecs(net.config));
}

/**
 * The decoder's levels `from` to `to` (exclusive) on the encoder's five taps, from `below` (the
 * output of level from - 1; the deepest tap for level 0): that last level's output.
 */
export function decoderLevels(
  net: MobileUNet,
  taps: tf.Tensor4D[],
  training: boolean,
  from = 0,
  to = net.config.decoderWidths.length,
  below = taps[4],
  batchStats: BatchStats | null = null,
): tf.Tensor4D {
  return tf.tidy(() => {
    const { params } = net;
    let h = below;
    for (let j = from; j < to; j++) {
      const up = upsample2x2(h, params[`dec${j}_up/kernel`] as tf.Tensor4D, params[`dec${j}_up/bias`] as tf.Tensor1D);
      h = convBnRelu(net, j < 4 ? [up, taps[3 - j]] : up, `dec${j}`, 1, training, batchStats);
      h = convBnRelu(net, h, `dec${j}`, 2, training, batchStats);
    }
    return h;
  });
}

/** The head on the decoder's output: NHWC logits. */
export function headForward(net: MobileUNet, h: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.add(tf.conv2d(h, net.params['head/kernel'] as tf.Tensor4D, 1, 'same'), net.params['head/bias']) as tf.Tensor4D);
}

/** The decoder and head on the encoder's five taps; NHWC logits at the input's size. */
export function decoderForward(net: MobileUNet, taps: tf.Tensor4D[], training: boolean, batchStats: BatchStats | null = null): tf.Tensor4D {
  return tf.tidy(() => headForward(net, decoderLevels(net, taps, training, 0, net.config.decoderWidths.length, taps[4], batchStats)));
}

/** Forward pass: normalised NHWC input to NHWC logits (training: batch statistics, recorded in batchStats). */
export function mobileUNetForward(net: MobileUNet, x: tf.Tensor4D, training: boolean, batchStats: BatchStats | null = null): tf.Tensor4D {
  return tf.tidy(() => decoderForward(net, encoderForward(net.params, x), training, batchStats));
}

/** Receptive radius in input pixels: the encoder's deepest tap plus the decoder's convolutions at their strides. */
export function mobileReceptiveRadius(cfg: MobileUNetConfig): number {
  // Two 3x3 convolutions per decoder level, at strides 16, 8, 4, 2, 1.
  return encoderReceptiveRadius() + cfg.decoderWidths.reduce((a, _, j) => a + 2 * 2 ** (4 - j), 0);
}
