/**
 * One optimisation step: the loss (cross-entropy over labelled pixels, plus the gap loss when
 * configured), gradients by the network's hand-written backward pass, Adam update, then the
 * batch-norm moving averages.
 */
import * as tf from '@tensorflow/tfjs-core';
import { buildNet, isEncoder, netForward, netLossAndGradients, netValues, updateMovingStats, type AnyNet, type LogitsLoss } from '../nets/index.js';
import { maskedCrossEntropy, type LossTargets } from '../losses/crossEntropy.js';
import { adamUpdate, type AdamHyper, type AdamState } from './adam.js';
import { gapLossTerm, type BandGapLoss, type GapLossConfig } from '../losses/gapLoss.js';
import { bandLossTerm, bandSoftmaxTerm, type BandTerm } from '../losses/bandLoss.js';

/** A batch on the host: normalised NHWC images and loss targets. */
export interface HostBatch {
  n: number;
  height: number;
  width: number;
  /** [n, height, width, 3] */
  images: Float32Array;
  targets: LossTargets;
  /** The crops' RGB bytes before normalisation [n, height, width, 3] (needed by a gap loss). */
  rgb?: Uint8Array;
  /** 1 where a crop pixel lies inside its image [n, height, width] (absent: all inside). */
  valid?: Uint8Array;
}

/**
 * The loss a training step minimises: cross-entropy over labelled pixels of the weighted
 * one-hot `targets`, plus `gap` (the gap loss of the batch) when given.
 */
export function stepLoss(targets: tf.Tensor, weightSum: number, gap: LogitsLoss | null): LogitsLoss {
  return (logits) => {
    const ce = maskedCrossEntropy(logits, targets, weightSum);
    if (!gap) return ce;
    const g = gap(logits);
    const grad = tf.add(ce.grad, g.grad);
    tf.dispose([ce.grad, g.grad]);
    return { value: ce.value + g.value, grad };
  };
}

/**
 * The loss of a network with a band head: `classLoss` on the class logits (all channels but the
 * last) and `band` on the band logit (the last); the gradient of both, in the logits' layout.
 */
export function withBand(classLoss: LogitsLoss, band: BandTerm): LogitsLoss {
  return (logits) => {
    const k = logits.shape[3] - 1;
    const [classLogits, bandLogits] = tf.split(logits, [k, 1], 3) as tf.Tensor4D[];
    try {
      const c = classLoss(classLogits);
      const b = band(bandLogits);
      const grad = tf.concat([c.grad, b.grad], 3);
      tf.dispose([c.grad, b.grad]);
      return { value: c.value + b.value, grad };
    } finally {
      tf.dispose([classLogits, bandLogits]);
    }
  };
}

/** How a step treats a pretrained encoder: frozen (no gradient), or trained at a scaled learning rate. */
export interface EncoderPhase {
  trainEncoder: boolean;
  /** The encoder's learning rate relative to the decoder's. */
  encoderLrScale: number;
}

/** A mean teacher: a copy of the network whose weights follow the student's by averaging. */
export interface Teacher {
  net: AnyNet;
  ema: number;
}

/** A teacher starting from the network's current weights. */
export async function makeTeacher(net: AnyNet, ema: number): Promise<Teacher> {
  return { net: buildNet(net.config, await netValues(net)), ema };
}

/** The teacher's class probabilities of a batch [n,h,w,k]: its forward pass on the flipped crops, flipped back. */
function teacherProbs(teacher: Teacher, x: tf.Tensor4D): Float32Array {
  const p = tf.tidy(() => tf.reverse(tf.softmax(netForward(teacher.net, tf.reverse(x, 2), true)), 2));
  try {
    return p.dataSync() as Float32Array;
  } finally {
    p.dispose();
  }
}

/** Move the teacher's weights towards the student's: t = ema t + (1 - ema) s. */
function followStudent(teacher: Teacher, net: AnyNet): void {
  tf.tidy(() => {
    for (const [name, t] of Object.entries(teacher.net.params)) t.assign(tf.add(tf.mul(t, teacher.ema), tf.mul(net.params[name], 1 - teacher.ema)));
  });
}

/** Run one training step and return the loss value (before the update), gap loss included. */
export function trainStep(
  net: AnyNet,
  adam: AdamState,
  batch: HostBatch,
  hyper: AdamHyper,
  gapLoss: GapLossConfig | null = null,
  phase: EncoderPhase = { trainEncoder: true, encoderLrScale: 1 },
  teacher: Teacher | null = null,
): number {
  const k = net.config.numClasses;
  if (gapLoss?.kind === 'mean-teacher' && !teacher) throw new Error('trainStep: the mean-teacher gap loss needs a teacher');
  if ((gapLoss?.kind === 'band') !== Boolean(net.config.bandOutput)) throw new Error('trainStep: the band gap loss and a band head go together');
  const x = tf.tensor4d(batch.images, [batch.n, batch.height, batch.width, net.config.inChannels]);
  const band = gapLoss?.kind === 'band' ? gapLoss : null;
  // The band softmax loss builds its own targets over the classes and the band: no class-only tensor for it.
  const t = band?.softmax ? null : tf.tensor4d(batch.targets.oneHot, [batch.n, batch.height, batch.width, k]);
  const extra = gapLoss && !band ? gapLossTerm(gapLoss, batch, teacher ? teacherProbs(teacher, x) : undefined) : null;
  let loss: LogitsLoss;
  if (!t) loss = bandSoftmaxTerm((band as BandGapLoss).weight, batch);
  else {
    const classLoss = stepLoss(t, batch.targets.weightSum, extra?.term ?? null);
    loss = band ? withBand(classLoss, bandLossTerm(band.weight, batch)) : classLoss;
  }
  let result;
  try {
    result = netLossAndGradients(net, x, loss, phase.trainEncoder);
  } finally {
    extra?.dispose();
    tf.dispose(t ? [x, t] : [x]);
  }
  const { loss: value, grads, batchStats } = result;
  adamUpdate(net.params, grads, adam, hyper, (name) => (isEncoder(net.config, name) ? phase.encoderLrScale : 1));
  updateMovingStats(net, batchStats);
  tf.dispose(Object.values(grads));
  if (teacher) followStudent(teacher, net);
  return value;
}
