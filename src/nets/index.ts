/**
 * gapseg's networks behind one set of functions, chosen by a config's kind: the U-Net trained
 * from scratch ('unet', unet/) and the U-Net decoder on an ImageNet MobileNetV2 encoder
 * ('mobilenet_v2_unet', mobilenetV2/). Training, prediction and the formats call these.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  GAP_HEAD,
  disposeNet,
  initialValuesOf,
  isStat,
  updateMovingStats,
  lossValue,
  type BatchStats,
  type LogitsLoss,
  type Net,
  type StepGradients,
  type TensorSpec,
} from './network.js';
import {
  buildUNet,
  initialValues as unetInitialValues,
  levelWidths,
  unetForward,
  unetSpecs,
  unetValues,
  type UNet,
  type UNetConfig,
} from './unet/unet.js';
import { lossAndGradients as unetLossAndGradients } from './unet/backprop.js';
import {
  buildMobileUNet,
  isEncoderParam,
  MOBILE_MULTIPLE,
  mobileReceptiveRadius,
  mobileUNetForward,
  mobileUNetSpecs,
  mobileUNetValues,
  mobileUNetValuesOf,
  type MobileUNet,
  type MobileUNetConfig,
} from './mobilenetV2/unet.js';
import { mobileLossAndGradients } from './mobilenetV2/backprop.js';

export type NetConfig = UNetConfig | MobileUNetConfig;
export type AnyNet = Net<NetConfig>;
export type { TensorSpec, BatchStats, LogitsLoss, StepGradients };
export { isStat, disposeNet, updateMovingStats, lossValue, initialValuesOf, GAP_HEAD };

const isMobile = (cfg: NetConfig): cfg is MobileUNetConfig => cfg.kind === 'mobilenet_v2_unet';

/** The name of a config's network kind. */
export function netKind(cfg: NetConfig): 'unet' | 'mobilenet_v2_unet' {
  return isMobile(cfg) ? 'mobilenet_v2_unet' : 'unet';
}

/** Every tensor of the network, in a stable order. */
export function netSpecs(cfg: NetConfig): TensorSpec[] {
  return isMobile(cfg) ? mobileUNetSpecs(cfg) : unetSpecs(cfg);
}

/** A fresh, seeded network; a MobileNetV2 encoder starts from `encoder` (pretrained values by name) when given. */
export function createNet(cfg: NetConfig, seed: number, encoder?: Map<string, Float32Array>): AnyNet {
  // A gap output starts as the extra class of a network with one more class would, so that
  // training is the void-as-a-class network's, draw for draw.
  if (cfg.gapOutput)
    return buildNet(
      cfg,
      gapFromExtraClass(initialNetValues({ ...cfg, numClasses: cfg.numClasses + 1, gapOutput: false }, seed, encoder), cfg.numClasses),
    );
  return buildNet(cfg, initialNetValues(cfg, seed, encoder));
}

/** Seeded initial values of a network (the encoder's from `encoder` when given). */
function initialNetValues(cfg: NetConfig, seed: number, encoder?: Map<string, Float32Array>): Map<string, Float32Array> {
  return isMobile(cfg) ? mobileUNetValues(cfg, seed, encoder) : unetInitialValues(cfg, seed);
}

/** Values of a network with k + 1 classes as a k-class network with a gap output: the last class's head becomes the gap output's. */
function gapFromExtraClass(values: Map<string, Float32Array>, k: number): Map<string, Float32Array> {
  const kernel = values.get('head/kernel') as Float32Array;
  const bias = values.get('head/bias') as Float32Array;
  const cin = kernel.length / (k + 1);
  const head = new Float32Array(cin * k);
  const gap = new Float32Array(cin);
  for (let i = 0; i < cin; i++) {
    head.set(kernel.subarray(i * (k + 1), i * (k + 1) + k), i * k);
    gap[i] = kernel[i * (k + 1) + k];
  }
  const out = new Map(values);
  out.set('head/kernel', head);
  out.set('head/bias', bias.slice(0, k));
  out.set(GAP_HEAD.kernel, gap);
  out.set(GAP_HEAD.bias, bias.slice(k));
  return out;
}

/** The network from named values (a checkpoint or a saved model). */
export function buildNet(cfg: NetConfig, values: Map<string, Float32Array>): AnyNet {
  return isMobile(cfg) ? buildMobileUNet(cfg, values) : (buildUNet(cfg, values) as AnyNet);
}

/** Current values of every tensor, by name. */
export function netValues(net: AnyNet): Promise<Map<string, Float32Array>> {
  return isMobile(net.config) ? mobileUNetValuesOf(net as MobileUNet) : unetValues(net as UNet);
}

/** Forward pass: normalised NHWC input, NHWC logits (training: batch statistics, recorded in batchStats). */
export function netForward(net: AnyNet, x: tf.Tensor4D, training: boolean, batchStats: BatchStats | null = null): tf.Tensor4D {
  return isMobile(net.config)
    ? mobileUNetForward(net as MobileUNet, x, training, batchStats)
    : unetForward(net as UNet, x, training, batchStats);
}

/** Whether training can leave this parameter out (a pretrained encoder's, while frozen). */
export function isEncoder(cfg: NetConfig, name: string): boolean {
  return isMobile(cfg) && isEncoderParam(name);
}

/**
 * Loss, gradients and batch statistics of a training batch. With `trainEncoder` false, a
 * pretrained encoder is frozen: no gradient for it (nor any work to compute one).
 */
export function netLossAndGradients(net: AnyNet, x: tf.Tensor4D, loss: LogitsLoss, trainEncoder = true): StepGradients {
  return isMobile(net.config)
    ? mobileLossAndGradients(net as MobileUNet, x, loss, trainEncoder)
    : unetLossAndGradients(net as UNet, x, loss);
}

/** Input sides must be multiples of this. */
export function netMultiple(cfg: NetConfig): number {
  return isMobile(cfg) ? MOBILE_MULTIPLE : 2 ** cfg.depth;
}

/** Receptive radius in input pixels: tiles with margins this wide equal untiled prediction. */
export function netReceptiveRadius(cfg: NetConfig): number {
  return isMobile(cfg) ? mobileReceptiveRadius(cfg) : 7 * 2 ** cfg.depth - 5;
}

/** Number of trainable parameters. */
export function parameterCount(cfg: NetConfig): number {
  return netSpecs(cfg)
    .filter((s) => !isStat(s))
    .reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
}

/** One line naming the network, for logs and reports. */
export function describeNet(cfg: NetConfig): string {
  if (isMobile(cfg)) return `U-Net decoder (${cfg.decoderWidths.join('-')}) on a MobileNetV2 encoder`;
  return `U-Net depth ${cfg.depth}, width ${cfg.baseWidth}`;
}

/**
 * Floats of activations per image of side `crop` that a training step keeps, summed over the
 * network's feature maps (for the memory estimate): per U-Net level its width, per MobileNetV2
 * block its expanded width at its stride, per decoder level its width.
 */
export function activationFloats(cfg: NetConfig, crop: number): number {
  if (!isMobile(cfg)) return levelWidths(cfg).reduce((a, w, i) => a + (crop / 2 ** i) ** 2 * w, 0);
  const taps = [96, 144, 192, 576, 1280];
  const encoder = taps.reduce((a, c, i) => a + (crop / 2 ** (i + 1)) ** 2 * c, 0);
  const decoder = cfg.decoderWidths.reduce((a, w, j) => a + (crop / 2 ** (4 - j)) ** 2 * w, 0);
  return encoder + decoder;
}
