/**
 * The U-Net's training pass with a hand-written backward pass (the layers of nets/backward.ts):
 * the forward pass keeps exactly what the backward pass needs, and the backward pass walks the
 * levels in reverse, releasing each activation as soon as its gradients are done. Per conv block
 * the step runs: conv, fused BN+ReLU forward; fused BN+ReLU backward, filter gradient, input
 * gradient. Tests check the gradients against tfjs autodiff of unetForward.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { UNet } from './unet.js';
import type { LogitsLoss, StepGradients } from '../network.js';
import { Backprop, type ConvBnReluTape, type DecoderLevelTape } from '../backward.js';
import { MAXPOOL2_GRAD } from '../../engine/kernels/gradients.js';

export type { LogitsLoss, StepGradients } from '../network.js';

const run = (name: string, inputs: tf.NamedTensorMap): tf.Tensor => tf.engine().runKernel(name, inputs, {}) as tf.Tensor;

/**
 * Loss, gradients and batch statistics of one training batch: the forward pass in training
 * mode, `loss` of its logits, and the backward pass.
 */
export function lossAndGradients(net: UNet, x: tf.Tensor4D, loss: LogitsLoss): StepGradients {
  const { config: cfg, params: P } = net;
  const bp = new Backprop(P, cfg.bnEpsilon);

  // ---- forward ----
  const enc: ConvBnReluTape[][] = [];
  const pooled: tf.Tensor4D[] = [];
  let h: tf.Tensor4D = x;
  for (let i = 0; i < cfg.depth; i++) {
    const b1 = bp.convBnRelu(h, `enc${i}`, 1);
    const b2 = bp.convBnRelu(b1.out, `enc${i}`, 2);
    enc.push([b1, b2]);
    h = tf.maxPool(b2.out, 2, 2, 'valid');
    pooled.push(h);
  }
  const m1 = bp.convBnRelu(h, 'mid', 1);
  const m2 = bp.convBnRelu(m1.out, 'mid', 2);
  h = m2.out;
  const dec: DecoderLevelTape[] = [];
  for (let i = cfg.depth - 1; i >= 0; i--) {
    dec[i] = bp.decoderLevel(h, enc[i][1].out, `dec${i}`);
    h = dec[i].b2.out;
  }
  const logits = bp.head(h);

  // ---- loss ----
  const { loss: value, grad } = loss(logits);
  logits.dispose();

  // ---- backward ----
  let dh = bp.headBackward(h, grad as tf.Tensor4D);
  const dSkips: tf.Tensor4D[] = [];
  for (let i = 0; i < cfg.depth; i++) {
    const { dBelow, dSkip } = bp.decoderLevelBackward(dec[i], dh, `dec${i}`, true);
    dSkips[i] = dSkip!;
    dh = dBelow!;
  }
  {
    const dOut1 = bp.convBnReluBackward(m2, dh, true)!;
    m2.out.dispose();
    dh = bp.convBnReluBackward(m1, dOut1, true)!;
    m1.out.dispose();
  }
  for (let i = cfg.depth - 1; i >= 0; i--) {
    const [b1, b2] = enc[i];
    const dPoolIn = run(MAXPOOL2_GRAD, { dy: dh, x: b2.out, y: pooled[i] }) as tf.Tensor4D;
    dh.dispose();
    pooled[i].dispose();
    const dOut2 = tf.add(dPoolIn, dSkips[i]) as tf.Tensor4D;
    tf.dispose([dPoolIn, dSkips[i]]);
    const dOut1 = bp.convBnReluBackward(b2, dOut2, true)!;
    b2.out.dispose();
    const dIn = bp.convBnReluBackward(b1, dOut1, i > 0);
    b1.out.dispose();
    if (dIn) dh = dIn;
  }
  return { loss: value, grads: bp.grads, batchStats: bp.batchStats };
}
