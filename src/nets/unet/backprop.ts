/**
 * The U-Net's training pass with a hand-written backward pass.
 *
 * tfjs's autodiff keeps every forward intermediate and every gradient alive until the whole
 * backward pass ends, and adds generic ops (Identity copies, broadcasts). Here the forward
 * pass keeps exactly what the backward pass needs, and the backward pass walks the levels in
 * reverse, releasing each activation as soon as its gradients are done, as PyTorch does.
 * Per conv block the step runs: conv, fused BN+ReLU forward; fused BN+ReLU backward, filter
 * gradient, input gradient. Tests check the gradients against tfjs autodiff of unetForward.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { UNet } from './unet.js';
import type { BatchStats, LogitsLoss, StepGradients } from '../network.js';

export type { LogitsLoss, StepGradients } from '../network.js';
import { BN_RELU_BACKWARD, BN_RELU_FORWARD } from '../../engine/kernels/batchNormRelu.js';
import { CHANNEL_SUMS, MAXPOOL2_GRAD } from '../../engine/kernels/gradients.js';
import { concatChannelsOp, splitChannelsOp } from '../../engine/kernels/channels.js';

const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor | tf.Tensor[] =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];

/** What the backward pass of one conv + BN + ReLU block needs. */
interface BlockTape {
  /** The conv input (for a decoder's first conv, the concatenation [up, skip]). */
  input: tf.Tensor4D;
  conv: tf.Tensor4D;
  out: tf.Tensor4D;
  mean: tf.Tensor1D;
  rstd: tf.Tensor1D;
  kernel: string;
  bn: string;
}


function filterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, shape: number[]): tf.Tensor4D {
  return run(tf.Conv2DBackpropFilter, { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined as unknown as string, filterShape: shape }) as tf.Tensor4D;
}

function inputGrad(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: number[]): tf.Tensor4D {
  return run(tf.Conv2DBackpropInput, { dy, filter }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined as unknown as string, inputShape }) as tf.Tensor4D;
}

/**
 * Loss, gradients and batch statistics of one training batch: the forward pass in training
 * mode, `loss` of its logits, and the backward pass.
 */
export function lossAndGradients(net: UNet, x: tf.Tensor4D, loss: LogitsLoss): StepGradients {
  const { config: cfg, params: P } = net;
  const eps = cfg.bnEpsilon;
  const batchStats: BatchStats = new Map();
  const grads: Record<string, tf.Tensor> = {};
  const count = x.shape[0] * x.shape[1] * x.shape[2];

  const block = (input: tf.Tensor4D, level: string, n: number): BlockTape => {
    const kernel = `${level}_conv${n}/kernel`;
    const bn = `${level}_bn${n}`;
    const conv = tf.conv2d(input, P[kernel] as tf.Tensor4D, 1, 'same');
    const [out, mean, rstd] = run(BN_RELU_FORWARD, { x: conv, gamma: P[`${bn}/gamma`], beta: P[`${bn}/beta`] }, { epsilon: eps }) as tf.Tensor[];
    const variance = tf.tidy(() => tf.sub(tf.reciprocal(tf.square(rstd)), eps)) as tf.Tensor1D;
    batchStats.set(bn, { mean: tf.clone(mean) as tf.Tensor1D, variance, count: conv.shape[0] * conv.shape[1] * conv.shape[2] });
    return { input, conv, out: out as tf.Tensor4D, mean: mean as tf.Tensor1D, rstd: rstd as tf.Tensor1D, kernel, bn };
  };

  /** Backward through one block; returns the gradient(s) w.r.t. its input(s). Frees dOut. */
  const blockBackward = (t: BlockTape, dOut: tf.Tensor4D, needInputGrad: boolean): tf.Tensor4D[] => {
    const [dConv, dGamma, dBeta] = run(BN_RELU_BACKWARD, { dy: dOut, x: t.conv, y: t.out, mean: t.mean, rstd: t.rstd, gamma: P[`${t.bn}/gamma`] }) as tf.Tensor4D[];
    dOut.dispose();
    t.conv.dispose();
    t.mean.dispose();
    t.rstd.dispose();
    grads[`${t.bn}/gamma`] = dGamma;
    grads[`${t.bn}/beta`] = dBeta;
    const kernel = P[t.kernel] as tf.Tensor4D;
    const dInputs: tf.Tensor4D[] = [];
    grads[t.kernel] = filterGrad(t.input, dConv, kernel.shape);
    if (needInputGrad) dInputs.push(inputGrad(dConv, kernel, t.input.shape));
    dConv.dispose();
    return dInputs;
  };

  // ---- forward ----
  const enc: BlockTape[][] = [];
  const pooled: tf.Tensor4D[] = [];
  let h: tf.Tensor4D = x;
  for (let i = 0; i < cfg.depth; i++) {
    const b1 = block(h, `enc${i}`, 1);
    const b2 = block(b1.out, `enc${i}`, 2);
    enc.push([b1, b2]);
    h = tf.maxPool(b2.out, 2, 2, 'valid');
    pooled.push(h);
  }
  const m1 = block(h, 'mid', 1);
  const m2 = block(m1.out, 'mid', 2);
  h = m2.out;
  const dec: { below: tf.Tensor4D; b1: BlockTape; b2: BlockTape }[] = [];
  for (let i = cfg.depth - 1; i >= 0; i--) {
    const kernel = P[`dec${i}_up/kernel`] as tf.Tensor4D;
    const bias = P[`dec${i}_up/bias`] as tf.Tensor1D;
    const up = upForward(h, kernel, bias);
    // One conv over the channel concatenation [up, skip] (SIMD copy; the stock Concat is slow).
    const cat = concatChannelsOp(up, enc[i][1].out) as tf.Tensor4D;
    up.dispose();
    const b1 = block(cat, `dec${i}`, 1);
    const b2 = block(b1.out, `dec${i}`, 2);
    dec[i] = { below: h, b1, b2 };
    h = b2.out;
  }
  const headK = P['head/kernel'] as tf.Tensor4D;
  const k = headK.shape[3];
  const logits = tf.tidy(() => tf.add(tf.conv2d(h, headK, 1, 'same'), P['head/bias'])) as tf.Tensor4D;

  // ---- loss ----
  const { value, grad } = loss(logits);
  const dLogits = grad as tf.Tensor4D;
  logits.dispose();

  // ---- backward ----
  const c0 = h.shape[3];
  grads['head/kernel'] = tf.tidy(() => tf.reshape(tf.matMul(tf.reshape(h, [count, c0]), tf.reshape(dLogits, [count, k]), true, false), [1, 1, c0, k]));
  grads['head/bias'] = run(CHANNEL_SUMS, { x: dLogits }) as tf.Tensor;
  let dh = tf.tidy(() => tf.reshape(tf.matMul(tf.reshape(dLogits, [count, k]), tf.reshape(headK, [c0, k]), false, true), h.shape)) as tf.Tensor4D;
  dLogits.dispose();
  const dSkips: tf.Tensor4D[] = [];
  for (let i = 0; i < cfg.depth; i++) {
    const d = dec[i];
    const [dOut1] = blockBackward(d.b2, dh, true);
    d.b2.out.dispose();
    const [dCat] = blockBackward(d.b1, dOut1, true);
    d.b1.out.dispose();
    d.b1.input.dispose();
    const upChannels = (P[`dec${i}_up/kernel`] as tf.Tensor4D).shape[2];
    const [dUp, dSkip] = splitChannelsOp(dCat, upChannels) as tf.Tensor4D[];
    dCat.dispose();
    dSkips[i] = dSkip;
    const ug = upBackward(dUp, d.below, P[`dec${i}_up/kernel`] as tf.Tensor4D);
    grads[`dec${i}_up/kernel`] = ug.dKernel;
    grads[`dec${i}_up/bias`] = ug.dBias;
    dUp.dispose();
    dh = ug.dInput;
  }
  {
    const [dOut1] = blockBackward(m2, dh, true);
    m2.out.dispose();
    [dh] = blockBackward(m1, dOut1, true);
    m1.out.dispose();
  }
  for (let i = cfg.depth - 1; i >= 0; i--) {
    const [b1, b2] = enc[i];
    const dPoolIn = run(MAXPOOL2_GRAD, { dy: dh, x: b2.out, y: pooled[i] }) as tf.Tensor4D;
    dh.dispose();
    pooled[i].dispose();
    const dOut2 = tf.add(dPoolIn, dSkips[i]) as tf.Tensor4D;
    tf.dispose([dPoolIn, dSkips[i]]);
    const [dOut1] = blockBackward(b2, dOut2, true);
    b2.out.dispose();
    const dIn = blockBackward(b1, dOut1, i > 0);
    b1.out.dispose();
    if (i > 0) dh = dIn[0];
  }
  return { loss: value, grads, batchStats };
}

/** Upsampling forward (same as ops.upsample2x2, kept here to pair with its backward). */
function upForward(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, cin] = x.shape;
    const cout = kernel.shape[2];
    const k2 = tf.reshape(tf.transpose(kernel, [3, 0, 1, 2]), [cin, 4 * cout]);
    const y = tf.reshape(tf.matMul(tf.reshape(x, [n * h * w, cin]), k2), [n, h, w, 2, 2 * cout]);
    return tf.add(tf.reshape(tf.transpose(y, [0, 1, 3, 2, 4]), [n, 2 * h, 2 * w, cout]), bias) as tf.Tensor4D;
  });
}

/** Gradients of the 2x2 stride-2 transposed convolution. */
function upBackward(dy: tf.Tensor4D, x: tf.Tensor4D, kernel: tf.Tensor4D): { dInput: tf.Tensor4D; dKernel: tf.Tensor4D; dBias: tf.Tensor1D } {
  const dBias = run(CHANNEL_SUMS, { x: dy }) as tf.Tensor1D;
  const [dInput, dKernel] = tf.tidy(() => {
    const [n, h, w, cin] = x.shape;
    const cout = kernel.shape[2];
    // [n, 2h, 2w, o] = [n, i, a, j, (b, o)] -> [n, i, j, a, (b, o)] = [n*h*w, 4*out]
    const dy2 = tf.reshape(tf.transpose(tf.reshape(dy, [n, h, 2, w, 2 * cout]), [0, 1, 3, 2, 4]), [n * h * w, 4 * cout]);
    const k2 = tf.reshape(tf.transpose(kernel, [3, 0, 1, 2]), [cin, 4 * cout]);
    const dx = tf.reshape(tf.matMul(dy2, k2, false, true), x.shape);
    const dk2 = tf.matMul(tf.reshape(x, [n * h * w, cin]), dy2, true, false); // [in, (a, b, out)]
    const dk = tf.transpose(tf.reshape(dk2, [cin, 2, 2, cout]), [1, 2, 3, 0]);
    return [dx, dk];
  }) as tf.Tensor4D[];
  return { dInput, dKernel, dBias };
}
