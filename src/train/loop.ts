/**
 * The training loop: epochs of augmented crops, one-cycle Adam, validation after each
 * epoch. Every random choice derives from (seed, epoch, step), so resuming from the end of
 * an epoch replays exactly what an uninterrupted run would have done.
 * No file I/O here: the caller persists state in `onEpochEnd`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { augmentedCrop, normalizeInto, type AugmentOptions } from '../data/augment.js';
import type { Sample } from '../data/load.js';
import { deriveSeed, makeRng, shuffled } from '../util/random.js';
import { netMultiple, netReceptiveRadius, type AnyNet } from '../nets/index.js';
import { netModel, predictImage } from '../predict/pipeline.js';
import { recipePlan } from '../predict/plan.js';
import { tfjsNet } from '../predict/tfjsNet.js';
import { addImage, emptyTotals, report, type EvalReport } from '../metrics/evaluate.js';
import { lossTargets } from '../losses/crossEntropy.js';
import { trainStep, type EncoderPhase, type HostBatch } from './step.js';
import { oneCycle, scheduleAt } from './schedule.js';
import type { AdamState } from './adam.js';
import { firstNonFinite } from './checkpoint.js';
import { GapsegError } from '../util/errors.js';
import { VOID_INDEX } from '../data/classes.js';
import type { TrainingLoss } from '../losses/trainingLoss.js';

export interface LoopSettings {
  epochs: number;
  batch: number;
  lr: number;
  weightDecay: number;
  classWeights: number[] | null;
  seed: number;
  augment: AugmentOptions;
  mean: number[];
  std: number[];
  tile: number;
  /** The loss the run trains with (losses/trainingLoss.ts). */
  loss: TrainingLoss;
  /** A pretrained encoder's fine-tuning (absent: every parameter trains on one schedule). */
  fineTune?: FineTune | null;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  lr: number;
  seconds: number;
  imagesPerSecond: number;
  valid: ValidReport | null;
}

/** Validation metrics plus the (unweighted) cross-entropy on labelled validation pixels. */
export interface ValidReport extends EvalReport {
  loss: number;
}

/** Sees each validation image's NHWC logits and predicted classes (e.g. for the report's previews). */
export type ValidImageObserver = (index: number, sample: Sample, probs: Float32Array, pred: Uint8Array) => void;

export interface LoopCallbacks {
  /** Called after each step with progress within the epoch. */
  onStep?: (epoch: number, step: number, steps: number, loss: number) => void;
  /** Called at the start of each epoch. */
  onEpochStart?: (epoch: number, steps: number) => void;
  /** Called for each validation image. */
  onValidImage?: ValidImageObserver;
  /** Persist state; awaited before the next epoch starts. */
  onEpochEnd: (record: EpochRecord) => Promise<void>;
}

/** What a diverged run leaves behind, after `done` completed epochs. */
function kept(done: number): string {
  return done > 0 ? `the checkpoint of epoch ${done} and the best model so far are kept` : 'nothing was saved (no epoch completed)';
}

/**
 * Fine-tuning a pretrained encoder as fastai's fine_tune does: for `freezeEpochs` epochs the
 * encoder is frozen and the decoder trains on a one-cycle schedule warming up over nearly all
 * of it; then everything trains on a new one-cycle schedule at half the peak rate, the encoder
 * at 1/encoderLrDiv of the decoder's rate.
 */
export interface FineTune {
  freezeEpochs: number;
  encoderLrDiv: number;
}

/** The learning rate, beta1 and encoder treatment of every global step. */
export function trainingPhases(
  s: Pick<LoopSettings, 'lr' | 'epochs' | 'fineTune'>,
  steps: number,
): (global: number) => { hyper: { lr: number; beta1: number }; encoder: EncoderPhase } {
  const ft = s.fineTune;
  if (!ft || ft.freezeEpochs <= 0) {
    const schedule = oneCycle(s.lr, steps * s.epochs);
    return (global) => ({
      hyper: scheduleAt(schedule, global),
      encoder: { trainEncoder: true, encoderLrScale: ft ? 1 / ft.encoderLrDiv : 1 },
    });
  }
  const frozenSteps = steps * Math.min(ft.freezeEpochs, s.epochs);
  const first = oneCycle(s.lr, frozenSteps, 0.99);
  const second = oneCycle(s.lr / 2, Math.max(1, steps * s.epochs - frozenSteps));
  return (global) =>
    global < frozenSteps
      ? { hyper: scheduleAt(first, global), encoder: { trainEncoder: false, encoderLrScale: 0 } }
      : { hyper: scheduleAt(second, global - frozenSteps), encoder: { trainEncoder: true, encoderLrScale: 1 / ft.encoderLrDiv } };
}

/** Steps in one epoch: every training sample once, in full batches. */
export function stepsPerEpoch(nTrain: number, batch: number): number {
  return Math.max(1, Math.ceil(nTrain / batch));
}

/** The host batch of step `step` of an epoch whose sample order is `order` (deterministic). */
export function makeBatch(samples: Sample[], order: number[], step: number, globalStep: number, s: LoopSettings): HostBatch {
  const size = s.augment.size;
  const n = s.batch;
  const images = new Float32Array(n * size * size * 3);
  const labels = new Uint8Array(n * size * size);
  const valid = new Uint8Array(n * size * size);
  for (let b = 0; b < n; b++) {
    const idx = order[(step * n + b) % order.length];
    const rng = makeRng(deriveSeed(s.seed, 2, globalStep, b, idx));
    const crop = augmentedCrop(samples[idx], rng, s.augment);
    normalizeInto(images, b * size * size * 3, crop.image, s.mean, s.std);
    labels.set(crop.labels, b * size * size);
    valid.set(crop.valid, b * size * size);
  }
  const k = s.classWeights?.length;
  return { n, height: size, width: size, images, targets: lossTargets(labels, k ?? 0, s.classWeights ?? undefined), valid };
}

/** Cross-entropy over labelled pixels from HWC probabilities: [sum, count] to be summed over images. */
export function labelledCrossEntropy(probs: Float32Array, labels: Uint8Array, k: number): [number, number] {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i];
    if (t === VOID_INDEX) continue;
    sum -= Math.log(Math.max(probs[i * k + t], 1e-30));
    count++;
  }
  return [sum, count];
}

/** Validate on whole samples at the training scale. */
export async function validate(
  net: AnyNet,
  samples: Sample[],
  s: Pick<LoopSettings, 'mean' | 'std' | 'tile'>,
  onImage?: ValidImageObserver,
): Promise<ValidReport> {
  const k = net.config.numClasses;
  const totals = emptyTotals(k);
  // The samples are already at the training scale: the plan keeps them as they are.
  const model = netModel(
    tfjsNet(net),
    recipePlan({ scale: 1, tile: s.tile, mean: s.mean, std: s.std }, netMultiple(net.config), netReceptiveRadius(net.config)),
    k,
    2,
  );
  const allowed = [...Array(k).keys()];
  let lossSum = 0;
  let lossCount = 0;
  for (const [index, smp] of samples.entries()) {
    const pred = await predictImage({ width: smp.width, height: smp.height, data: smp.image }, model, allowed);
    addImage(totals, smp.labels, pred.classes, smp.truth);
    const [ls, lc] = labelledCrossEntropy(pred.probs, smp.labels, k);
    lossSum += ls;
    lossCount += lc;
    onImage?.(index, smp, pred.probs, pred.classes);
  }
  return { ...report(totals), loss: lossCount ? lossSum / lossCount : NaN };
}

/**
 * Train epochs [startEpoch, endEpoch) of an s.epochs-long schedule (startEpoch > 0 when
 * resuming; endEpoch < s.epochs to pause early).
 * Stops with a clear error if the loss becomes NaN or infinite; the last checkpoint stays.
 */
export async function trainLoop(
  net: AnyNet,
  adam: AdamState,
  train: Sample[],
  valid: Sample[],
  s: LoopSettings,
  startEpoch: number,
  endEpoch: number,
  cb: LoopCallbacks,
): Promise<void> {
  const k = net.config.numClasses;
  const settings: LoopSettings = { ...s, classWeights: s.classWeights ?? new Array(k).fill(1) };
  const steps = stepsPerEpoch(train.length, s.batch);
  const plan = trainingPhases(s, steps);
  for (let epoch = startEpoch; epoch < endEpoch; epoch++) {
    const t0 = Date.now();
    const order = shuffled(makeRng(deriveSeed(s.seed, 1, epoch)), [...train.keys()]);
    cb.onEpochStart?.(epoch, steps);
    let lossSum = 0;
    let lossCount = 0;
    let lr = 0;
    for (let step = 0; step < steps; step++) {
      const global = epoch * steps + step;
      const batch = makeBatch(train, order, step, global, settings);
      const phase = plan(global);
      const h = phase.hyper;
      lr = h.lr;
      const loss = await trainStep(
        net,
        adam,
        batch,
        { lr: h.lr, beta1: h.beta1, beta2: 0.999, eps: 1e-8, weightDecay: s.weightDecay },
        s.loss,
        phase.encoder,
      );
      if (!Number.isFinite(loss)) {
        throw new GapsegError(
          `training diverged at epoch ${epoch + 1}, step ${step + 1}: the loss is ${loss}. Try a lower --lr (now ${s.lr}; start over with --force); ${kept(epoch)}`,
        );
      }
      if (batch.targets.labelled > 0) {
        lossSum += loss;
        lossCount++;
      }
      cb.onStep?.(epoch, step, steps, lossCount ? lossSum / lossCount : 0);
    }
    // Weights or optimiser moments can overflow while the loss still looks finite: such a
    // state is never validated, saved as a model or checkpointed.
    const broken = await firstNonFinite(net, adam);
    if (broken) {
      throw new GapsegError(
        `training diverged in epoch ${epoch + 1}: ${broken} holds NaN or infinite values. Try a lower --lr (now ${s.lr}; start over with --force); ${kept(epoch)}`,
      );
    }
    const validReport = valid.length > 0 ? await validate(net, valid, s, cb.onValidImage) : null;
    const seconds = (Date.now() - t0) / 1000;
    await cb.onEpochEnd({
      epoch: epoch + 1,
      trainLoss: lossCount ? lossSum / lossCount : 0,
      lr,
      seconds,
      imagesPerSecond: (steps * s.batch) / seconds,
      valid: validReport,
    });
    if (tf.memory().numTensors > 10000) throw new Error(`tensor leak: ${tf.memory().numTensors} tensors alive`);
  }
}
