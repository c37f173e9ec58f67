/**
 * The MobileNetV2 encoder (Sandler et al. 2018, depth multiplier 1.0) as gapseg trains it: a
 * 3x3 stride-2 stem, 17 inverted residual blocks (1x1 expansion, 3x3 depthwise, linear 1x1
 * projection, a residual add where shapes allow) and the final 1x1 convolution to 1280
 * channels. Every convolution has a bias and ReLU6 after it but the projections: the
 * ImageNet weights it starts from have their batch norm folded into those biases, and the
 * encoder is trained as that plain function (no batch norm is re-inserted).
 *
 * It taps five feature maps for a U-Net decoder, at strides 2, 4, 8, 16 and 32: the expansion
 * outputs of blocks 1, 3, 6 and 13 (TF names expanded_conv_N/expand/Relu6) and the last
 * convolution's output (Conv_1/Relu6). Padding is TensorFlow's 'same' (the extra row and column
 * at the bottom and right for stride 2), as the pretrained weights were trained with.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorSpec } from '../network.js';

/** One inverted residual block: expansion factor, output channels, stride of its depthwise conv. */
export interface BlockSpec {
  expand: number;
  out: number;
  stride: number;
}

/** MobileNetV2's 17 blocks, from its (t, c, n, s) table. */
export const BLOCKS: BlockSpec[] = (
  [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
  ] as const
).flatMap(([t, c, n, s]) => Array.from({ length: n }, (_, i) => ({ expand: t, out: c, stride: i === 0 ? s : 1 })));

export const STEM_CHANNELS = 32;
export const TOP_CHANNELS = 1280;

/** Blocks whose expansion output is a tap (strides 2, 4, 8, 16); the top convolution is the fifth. */
export const TAP_BLOCKS = [1, 3, 6, 13];

/** Channels of the five taps, at strides 2, 4, 8, 16 and 32. */
export function tapChannels(): number[] {
  const inputs = blockInputs();
  return [...TAP_BLOCKS.map((b) => inputs[b] * BLOCKS[b].expand), TOP_CHANNELS];
}

/** Input channels of every block. */
export function blockInputs(): number[] {
  return BLOCKS.map((_, i) => (i === 0 ? STEM_CHANNELS : BLOCKS[i - 1].out));
}

/** Whether block i adds its input to its output. */
export function isResidual(i: number): boolean {
  return BLOCKS[i].stride === 1 && blockInputs()[i] === BLOCKS[i].out;
}

const conv = (name: string, k: number, cin: number, cout: number): TensorSpec[] => [
  { name: `${name}/kernel`, shape: [k, k, cin, cout], kind: 'kernel', fanIn: k * k * cin },
  { name: `${name}/bias`, shape: [cout], kind: 'bias', fanIn: 0 },
];

/** The encoder's tensors, in the order of its forward pass. */
export function encoderSpecs(inChannels: number): TensorSpec[] {
  const specs: TensorSpec[] = conv('enc_stem', 3, inChannels, STEM_CHANNELS);
  blockInputs().forEach((cin, i) => {
    const b = BLOCKS[i];
    const mid = cin * b.expand;
    if (b.expand !== 1) specs.push(...conv(`enc_b${i}_expand`, 1, cin, mid));
    specs.push(
      { name: `enc_b${i}_dw/depthwise_kernel`, shape: [3, 3, mid, 1], kind: 'kernel', fanIn: 9 },
      { name: `enc_b${i}_dw/bias`, shape: [mid], kind: 'bias', fanIn: 0 },
    );
    specs.push(...conv(`enc_b${i}_project`, 1, mid, b.out));
  });
  specs.push(...conv('enc_top', 1, BLOCKS[BLOCKS.length - 1].out, TOP_CHANNELS));
  return specs;
}

/** The parameters of the encoder by name (a view of a network's params). */
export type EncoderParams = Record<string, tf.Tensor>;

/** The five taps of normalised NHWC input x (sides multiples of 32), strides 2 to 32, on the inference kernels (bias and ReLU6 fused). */
export function encoderForward(p: EncoderParams, x: tf.Tensor4D): tf.Tensor4D[] {
  const conv = (h: tf.Tensor4D, name: string, stride: number, relu6: boolean) =>
    tf.fused.conv2d({
      x: h,
      filter: p[`${name}/kernel`] as tf.Tensor4D,
      strides: stride,
      pad: 'same',
      bias: p[`${name}/bias`],
      activation: relu6 ? 'relu6' : 'linear',
    });
  return tf.tidy(() => {
    const taps: tf.Tensor4D[] = [];
    let h = conv(x, 'enc_stem', 2, true);
    BLOCKS.forEach((b, i) => {
      const input = h;
      if (b.expand !== 1) {
        h = conv(h, `enc_b${i}_expand`, 1, true);
        if (TAP_BLOCKS.includes(i)) taps.push(h);
      }
      h = tf.fused.depthwiseConv2d({
        x: h,
        filter: p[`enc_b${i}_dw/depthwise_kernel`] as tf.Tensor4D,
        strides: b.stride,
        pad: 'same',
        bias: p[`enc_b${i}_dw/bias`],
        activation: 'relu6',
      });
      h = conv(h, `enc_b${i}_project`, 1, false);
      if (isResidual(i)) h = tf.add(h, input) as tf.Tensor4D;
    });
    taps.push(conv(h, 'enc_top', 1, true));
    return taps;
  });
}

/** Receptive radius of the encoder's deepest tap, in input pixels: half its receptive field. */
export function encoderReceptiveRadius(): number {
  // Each k x k convolution widens the field by (k - 1) times the stride before it.
  let jump = 1;
  let field = 1;
  const layer = (k: number, s: number) => {
    field += (k - 1) * jump;
    jump *= s;
  };
  layer(3, 2);
  for (const b of BLOCKS) layer(3, b.stride);
  return Math.ceil((field - 1) / 2);
}
