/**
 * The MobileNetV2 U-Net's training pass with a hand-written backward pass (the layers of
 * nets/backward.ts), as the U-Net has: the forward keeps one tensor per layer (its output; a
 * linear projection keeps none of its own), and the backward walks decoder then encoder in
 * reverse, releasing each activation once its gradients are done, so the step's peak is the
 * forward's activations instead of autodiff's activations and every gradient together.
 * With the encoder frozen its features come from the inference kernels and only the decoder
 * is taped. Tests check the gradients against tfjs autodiff of the network in plain ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LogitsLoss, StepGradients } from '../network.js';
import { Backprop, type ConvActTape, type DecoderLevelTape } from '../backward.js';
import { BLOCKS, TAP_BLOCKS, encoderForward, isResidual } from './encoder.js';
import type { MobileUNet } from './unet.js';

/** One inverted residual block's tapes; its output is `out` (the next block's input). */
interface BlockTape {
  expand: ConvActTape | null;
  dw: ConvActTape;
  project: ConvActTape;
  out: tf.Tensor4D;
}

interface EncoderTape {
  stem: ConvActTape;
  blocks: BlockTape[];
  top: ConvActTape;
  taps: tf.Tensor4D[];
}

/** The encoder's training forward: the five taps and what its backward needs. */
function encoderTrainForward(bp: Backprop, x: tf.Tensor4D): EncoderTape {
  const taps: tf.Tensor4D[] = [];
  const stem = bp.convAct(x, 'enc_stem', 2, true);
  let h = stem.out;
  const blocks = BLOCKS.map((b, i): BlockTape => {
    const input = h;
    let expand: ConvActTape | null = null;
    if (b.expand !== 1) {
      const e = bp.convAct(h, `enc_b${i}_expand`, 1, true);
      expand = e.tape;
      h = e.out;
      if (TAP_BLOCKS.includes(i)) taps.push(h);
    }
    const dw = bp.convAct(h, `enc_b${i}_dw`, b.stride, true, true);
    const project = bp.convAct(dw.out, `enc_b${i}_project`, 1, false);
    h = project.out;
    if (isResidual(i)) {
      h = tf.add(project.out, input) as tf.Tensor4D;
      project.out.dispose();
    }
    return { expand, dw: dw.tape, project: project.tape, out: h };
  });
  const top = bp.convAct(h, 'enc_top', 1, true);
  taps.push(top.out);
  return { stem: stem.tape, blocks, top: top.tape, taps };
}

/** Backward through the encoder from the gradients at its five taps (freed); frees its activations. */
function encoderBackward(bp: Backprop, t: EncoderTape, dTaps: tf.Tensor4D[]): void {
  let dh = bp.convActBackward(t.top, dTaps[4], true)!;
  t.taps[4].dispose();
  let tap = TAP_BLOCKS.length - 1;
  for (let i = BLOCKS.length - 1; i >= 0; i--) {
    const b = t.blocks[i];
    b.out.dispose();
    const dResidual = isResidual(i) ? tf.clone(dh) : null;
    const dDw = bp.convActBackward(b.project, dh, true)!;
    let dMid = bp.convActBackward(b.dw, dDw, true)!;
    b.dw.out!.dispose();
    if (b.expand) {
      if (TAP_BLOCKS[tap] === i) {
        const dTap = dTaps[tap--];
        const sum = tf.add(dMid, dTap) as tf.Tensor4D;
        tf.dispose([dMid, dTap]);
        dMid = sum;
      }
      const dIn = bp.convActBackward(b.expand, dMid, true)!;
      b.expand.out!.dispose();
      dMid = dIn;
    }
    dh = dMid;
    if (dResidual) {
      dh = tf.add(dMid, dResidual) as tf.Tensor4D;
      tf.dispose([dMid, dResidual]);
    }
  }
  bp.convActBackward(t.stem, dh, false);
  t.stem.out!.dispose();
}

/**
 * The decoder's training forward from level `from` (its input `below`: the encoder's deepest tap
 * at level 0) on the encoder's taps (level j reads tap 3 - j, the last none); the last level's
 * output is the head's input.
 */
function decoderTrainForward(bp: Backprop, net: MobileUNet, taps: tf.Tensor4D[], from: number, below: tf.Tensor4D): DecoderLevelTape[] {
  let h = below;
  return net.config.decoderWidths.slice(from).map((_, i) => {
    const j = from + i;
    const level = bp.decoderLevel(h, j < 4 ? taps[3 - j] : null, `dec${j}`);
    h = level.b2.out;
    return level;
  });
}

/**
 * Backward through the decoder levels from `from` on, from the gradient at its output (freed);
 * frees their activations and returns the gradients at the five taps when `tapGrads` (only
 * with `from` 0; else none are computed or kept).
 */
function decoderBackward(bp: Backprop, levels: DecoderLevelTape[], from: number, dOut: tf.Tensor4D, tapGrads: boolean): tf.Tensor4D[] {
  const dTaps: tf.Tensor4D[] = [];
  let dh = dOut;
  for (let i = levels.length - 1; i >= 0; i--) {
    const j = from + i;
    const { dBelow, dSkip } = bp.decoderLevelBackward(levels[i], dh, `dec${j}`, i > 0 || tapGrads);
    if (dSkip && tapGrads) dTaps[3 - j] = dSkip;
    else dSkip?.dispose();
    if (dBelow) dh = dBelow;
  }
  if (tapGrads) dTaps[4] = dh;
  return dTaps;
}

/**
 * The decoder's part of a step from level `from` (input `below`) on the encoder's taps: the loss
 * value, with the gradients of those levels and the head in `bp`; the gradients at the taps when
 * `tapGrads`.
 */
function decoderStep(
  bp: Backprop,
  net: MobileUNet,
  taps: tf.Tensor4D[],
  loss: LogitsLoss,
  tapGrads: boolean,
  from = 0,
  below = taps[4],
): { value: tf.Scalar; dTaps: tf.Tensor4D[] } {
  const levels = decoderTrainForward(bp, net, taps, from, below);
  const features = levels[levels.length - 1].b2.out;
  const logits = bp.head(features);
  const { loss: value, grad } = loss(logits);
  logits.dispose();
  return { value, dTaps: decoderBackward(bp, levels, from, bp.headBackward(features, grad as tf.Tensor4D), tapGrads) };
}

/**
 * Loss, gradients and batch statistics of one training batch. `trainEncoder` false: the encoder
 * runs on its inference kernels outside the tape (no encoder gradient, none of its activations
 * kept) and only decoder gradients are returned.
 */
export function mobileLossAndGradients(net: MobileUNet, x: tf.Tensor4D, loss: LogitsLoss, trainEncoder: boolean): StepGradients {
  if (!trainEncoder) {
    const taps = encoderForward(net.params, x);
    try {
      return decoderLossAndGradients(net, taps, loss);
    } finally {
      tf.dispose(taps);
    }
  }
  const bp = new Backprop(net.params, net.config.bnEpsilon);
  const encoder = encoderTrainForward(bp, x);
  const { value, dTaps } = decoderStep(bp, net, encoder.taps, loss, true);
  encoderBackward(bp, encoder, dTaps);
  return { loss: value, grads: bp.grads, batchStats: bp.batchStats };
}

/**
 * Loss, gradients and batch statistics of the decoder's levels from `from` on and the head, on
 * given encoder taps and the output `below` of the levels before `from` (frozen, computed by the
 * caller; the encoder's deepest tap when `from` is 0), as live training runs it; the inputs may
 * be freed.
 */
export function decoderLossAndGradients(net: MobileUNet, taps: tf.Tensor4D[], loss: LogitsLoss, from = 0, below = taps[4]): StepGradients {
  const bp = new Backprop(net.params, net.config.bnEpsilon);
  const { value } = decoderStep(bp, net, taps, loss, false, from, below);
  return { loss: value, grads: bp.grads, batchStats: bp.batchStats };
}
