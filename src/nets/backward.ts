/**
 * The layers of gapseg's hand-written training passes, each as a forward that records only
 * what its backward needs and a backward that releases what it no longer needs.
 *
 * tfjs's autodiff keeps every forward intermediate and every gradient alive until the whole
 * backward pass ends. A network's training pass (unet/backprop.ts, mobilenetV2/backprop.ts)
 * walks its layers in reverse with these and releases each activation as soon as its gradients
 * are done, as PyTorch does; the network's pass owns the activations, a layer's backward frees
 * only the gradient it was given and its own internals.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GAP_HEAD, type BatchStats } from './network.js';
import { BN_RELU_BACKWARD, BN_RELU_FORWARD } from '../engine/kernels/batchNormRelu.js';
import { CHANNEL_SUMS, RELU6_GRAD } from '../engine/kernels/gradients.js';
import { concatChannelsOp, splitChannelsOp } from '../engine/kernels/channels.js';
import { upsample2x2 } from './ops.js';

const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor | tf.Tensor[] =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];

const convAttrs = (stride: number) => ({
  strides: [stride, stride],
  pad: 'same',
  dataFormat: 'NHWC',
  dilations: [1, 1],
  dimRoundingMode: undefined as unknown as string,
});

/** What the backward pass of a convolution + batch norm + ReLU needs. */
export interface ConvBnReluTape {
  /** The conv input (owned by the caller). */
  input: tf.Tensor4D;
  conv: tf.Tensor4D;
  /** The block's output (owned by the caller). */
  out: tf.Tensor4D;
  mean: tf.Tensor1D;
  rstd: tf.Tensor1D;
  kernel: string;
  bn: string;
}

/** What the backward pass of a convolution (or depthwise convolution) with bias and optional ReLU6 needs. */
export interface ConvActTape {
  /** The layer's input (owned by the caller). */
  input: tf.Tensor4D;
  /** The layer's output where ReLU6 needs it for its mask (owned by the caller), else null. */
  out: tf.Tensor4D | null;
  kernel: string;
  bias: string;
  stride: number;
  depthwise: boolean;
}

/** What the backward pass of a U-Net decoder level needs: the map it upsampled (not owned) and its two blocks; its output is b2.out. */
export interface DecoderLevelTape {
  below: tf.Tensor4D;
  b1: ConvBnReluTape;
  b2: ConvBnReluTape;
  /** Channels of the upsampled part of b1's input (the rest is the skip). */
  upChannels: number;
  skip: boolean;
}

/**
 * One training step's layers over a network's parameters: each forward returns its tape, each
 * backward stores the parameter gradients in `grads` and returns the input gradient.
 */
export class Backprop {
  readonly grads: Record<string, tf.Tensor> = {};
  readonly batchStats: BatchStats = new Map();

  constructor(
    private readonly params: Record<string, tf.Tensor>,
    private readonly bnEpsilon: number,
  ) {}

  private param<T extends tf.Tensor>(name: string): T {
    return this.params[name] as T;
  }

  /** A 3x3 'same' conv `{level}_conv{n}` and training-mode batch norm + ReLU `{level}_bn{n}` (fused kernel), its batch statistics recorded. */
  convBnRelu(input: tf.Tensor4D, level: string, n: number): ConvBnReluTape {
    const kernel = `${level}_conv${n}/kernel`;
    const bn = `${level}_bn${n}`;
    const eps = this.bnEpsilon;
    const conv = tf.conv2d(input, this.param<tf.Tensor4D>(kernel), 1, 'same');
    const [out, mean, rstd] = run(
      BN_RELU_FORWARD,
      { x: conv, gamma: this.param(`${bn}/gamma`), beta: this.param(`${bn}/beta`) },
      { epsilon: eps },
    ) as tf.Tensor[];
    const variance = tf.tidy(() => tf.sub(tf.reciprocal(tf.square(rstd)), eps)) as tf.Tensor1D;
    this.batchStats.set(bn, { mean: tf.clone(mean) as tf.Tensor1D, variance, count: conv.shape[0] * conv.shape[1] * conv.shape[2] });
    return { input, conv, out: out as tf.Tensor4D, mean: mean as tf.Tensor1D, rstd: rstd as tf.Tensor1D, kernel, bn };
  }

  /** Backward through convBnRelu: frees dOut and the tape's internals, returns the input gradient when asked. */
  convBnReluBackward(t: ConvBnReluTape, dOut: tf.Tensor4D, needInputGrad: boolean): tf.Tensor4D | null {
    const [dConv, dGamma, dBeta] = run(BN_RELU_BACKWARD, {
      dy: dOut,
      x: t.conv,
      y: t.out,
      mean: t.mean,
      rstd: t.rstd,
      gamma: this.param(`${t.bn}/gamma`),
    }) as tf.Tensor4D[];
    tf.dispose([dOut, t.conv, t.mean, t.rstd]);
    this.grads[`${t.bn}/gamma`] = dGamma;
    this.grads[`${t.bn}/beta`] = dBeta;
    const kernel = this.param<tf.Tensor4D>(t.kernel);
    this.grads[t.kernel] = run(
      tf.Conv2DBackpropFilter,
      { x: t.input, dy: dConv },
      { ...convAttrs(1), filterShape: kernel.shape },
    ) as tf.Tensor;
    const dInput = needInputGrad
      ? (run(tf.Conv2DBackpropInput, { dy: dConv, filter: kernel }, { ...convAttrs(1), inputShape: t.input.shape }) as tf.Tensor4D)
      : null;
    dConv.dispose();
    return dInput;
  }

  /** A 'same' convolution `{name}/kernel` (or depthwise `{name}/depthwise_kernel`) with `{name}/bias` and ReLU6 or none, on one fused kernel. */
  convAct(input: tf.Tensor4D, name: string, stride: number, relu6: boolean, depthwise = false): { out: tf.Tensor4D; tape: ConvActTape } {
    const kernel = depthwise ? `${name}/depthwise_kernel` : `${name}/kernel`;
    const bias = `${name}/bias`;
    const args = {
      x: input,
      filter: this.param<tf.Tensor4D>(kernel),
      strides: stride,
      pad: 'same' as const,
      bias: this.param(bias),
      activation: relu6 ? ('relu6' as const) : ('linear' as const),
    };
    const out = depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
    return { out, tape: { input, out: relu6 ? out : null, kernel, bias, stride, depthwise } };
  }

  /** Backward through convAct: frees dOut, returns the input gradient when asked. */
  convActBackward(t: ConvActTape, dOut: tf.Tensor4D, needInputGrad: boolean): tf.Tensor4D | null {
    const dz = t.out ? (run(RELU6_GRAD, { dy: dOut, y: t.out }) as tf.Tensor4D) : dOut;
    if (dz !== dOut) dOut.dispose();
    const kernel = this.param<tf.Tensor4D>(t.kernel);
    const attrs = convAttrs(t.stride);
    this.grads[t.kernel] = run(
      t.depthwise ? tf.DepthwiseConv2dNativeBackpropFilter : tf.Conv2DBackpropFilter,
      { x: t.input, dy: dz },
      { ...attrs, filterShape: kernel.shape },
    ) as tf.Tensor;
    this.grads[t.bias] = run(CHANNEL_SUMS, { x: dz }) as tf.Tensor;
    const dInput = needInputGrad
      ? (run(
          t.depthwise ? tf.DepthwiseConv2dNativeBackpropInput : tf.Conv2DBackpropInput,
          { dy: dz, filter: kernel },
          { ...attrs, inputShape: t.input.shape },
        ) as tf.Tensor4D)
      : null;
    dz.dispose();
    return dInput;
  }

  /** Whether the network has a gap output (network.ts gapHeadSpecs). */
  private get gapOutput(): boolean {
    return GAP_HEAD.kernel in this.params;
  }

  /** The head's kernel and bias: the class head's, with the gap output's as one more channel where there is one. */
  private headWeights(): { kernel: tf.Tensor4D; bias: tf.Tensor1D } {
    const kernel = this.param<tf.Tensor4D>('head/kernel');
    const bias = this.param<tf.Tensor1D>('head/bias');
    if (!this.gapOutput) return { kernel, bias };
    return {
      kernel: tf.concat([kernel, this.param<tf.Tensor4D>(GAP_HEAD.kernel)], 3),
      bias: tf.concat([bias, this.param<tf.Tensor1D>(GAP_HEAD.bias)]),
    };
  }

  /** The 1x1 head `head/kernel` + `head/bias`: logits of the last feature map (the gap output's after the classes', where there is one). */
  head(h: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const { kernel, bias } = this.headWeights();
      return tf.add(tf.conv2d(h, kernel, 1, 'same'), bias);
    }) as tf.Tensor4D;
  }

  /** Backward through the head (as matrix products over pixels): frees dLogits, returns the gradient at h. */
  headBackward(h: tf.Tensor4D, dLogits: tf.Tensor4D): tf.Tensor4D {
    const [c, k] = [h.shape[3], dLogits.shape[3]];
    const count = h.size / c;
    const dKernel = tf.tidy(() =>
      tf.reshape(tf.matMul(tf.reshape(h, [count, c]), tf.reshape(dLogits, [count, k]), true, false), [1, 1, c, k]),
    );
    const dBias = run(CHANNEL_SUMS, { x: dLogits }) as tf.Tensor;
    if (this.gapOutput) {
      const classes = k - 1;
      this.grads['head/kernel'] = tf.slice(dKernel, [0, 0, 0, 0], [1, 1, c, classes]);
      this.grads[GAP_HEAD.kernel] = tf.slice(dKernel, [0, 0, 0, classes], [1, 1, c, 1]);
      this.grads['head/bias'] = tf.slice(dBias, [0], [classes]);
      this.grads[GAP_HEAD.bias] = tf.slice(dBias, [classes], [1]);
      tf.dispose([dKernel, dBias]);
    } else {
      this.grads['head/kernel'] = dKernel;
      this.grads['head/bias'] = dBias;
    }
    const dh = tf.tidy(() =>
      tf.reshape(tf.matMul(tf.reshape(dLogits, [count, k]), tf.reshape(this.headWeights().kernel, [c, k]), false, true), h.shape),
    ) as tf.Tensor4D;
    dLogits.dispose();
    return dh;
  }

  /**
   * A U-Net decoder level `{level}`: upsample `below` (`{level}_up`), concatenate `skip` when
   * given (one conv over [up, skip], a SIMD channel copy), two convBnRelu blocks.
   */
  decoderLevel(below: tf.Tensor4D, skip: tf.Tensor4D | null, level: string): DecoderLevelTape {
    const up = upsample2x2(below, this.param<tf.Tensor4D>(`${level}_up/kernel`), this.param<tf.Tensor1D>(`${level}_up/bias`));
    let input = up;
    if (skip) {
      input = concatChannelsOp(up, skip) as tf.Tensor4D;
      up.dispose();
    }
    const b1 = this.convBnRelu(input, level, 1);
    const b2 = this.convBnRelu(b1.out, level, 2);
    return { below, b1, b2, upChannels: up.shape[3], skip: skip !== null };
  }

  /**
   * Backward through decoderLevel: frees dOut and the level's activations (its output
   * included, not `below`); returns the gradients at `below` (when asked) and at the skip.
   */
  decoderLevelBackward(
    t: DecoderLevelTape,
    dOut: tf.Tensor4D,
    level: string,
    needBelow: boolean,
  ): { dBelow: tf.Tensor4D | null; dSkip: tf.Tensor4D | null } {
    const d1 = this.convBnReluBackward(t.b2, dOut, true)!;
    t.b2.out.dispose();
    let dUp = this.convBnReluBackward(t.b1, d1, true)!;
    t.b1.out.dispose();
    t.b1.input.dispose();
    let dSkip: tf.Tensor4D | null = null;
    if (t.skip) {
      const [a, b] = splitChannelsOp(dUp, t.upChannels) as tf.Tensor4D[];
      dUp.dispose();
      [dUp, dSkip] = [a, b];
    }
    return { dBelow: this.upsampleBackward(`${level}_up`, dUp, t.below, needBelow), dSkip };
  }

  /** Backward through upsample2x2 with `{name}/kernel` and `{name}/bias` on input x: frees dy, returns the input gradient when asked. */
  upsampleBackward(name: string, dy: tf.Tensor4D, x: tf.Tensor4D, needInputGrad: boolean): tf.Tensor4D | null {
    const kernel = this.param<tf.Tensor4D>(`${name}/kernel`);
    this.grads[`${name}/bias`] = run(CHANNEL_SUMS, { x: dy }) as tf.Tensor;
    const [dKernel, dInput] = tf.tidy(() => {
      const [n, h, w, cin] = x.shape;
      const cout = kernel.shape[2];
      // [n, 2h, 2w, o] = [n, i, a, j, (b, o)] -> [n, i, j, a, (b, o)] = [n*h*w, 4*out]
      const dy2 = tf.reshape(tf.transpose(tf.reshape(dy, [n, h, 2, w, 2 * cout]), [0, 1, 3, 2, 4]), [n * h * w, 4 * cout]);
      const k2 = tf.reshape(tf.transpose(kernel, [3, 0, 1, 2]), [cin, 4 * cout]);
      const dk2 = tf.matMul(tf.reshape(x, [n * h * w, cin]), dy2, true, false); // [in, (a, b, out)]
      const dk = tf.transpose(tf.reshape(dk2, [cin, 2, 2, cout]), [1, 2, 3, 0]);
      return needInputGrad ? [dk, tf.reshape(tf.matMul(dy2, k2, false, true), x.shape)] : [dk];
    }) as tf.Tensor4D[];
    dy.dispose();
    this.grads[`${name}/kernel`] = dKernel;
    return dInput ?? null;
  }
}
