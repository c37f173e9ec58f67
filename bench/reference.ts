/**
 * The training benchmark's reference batch (bench/train.ts, bench/stepProfile.ts): 4 random
 * 3x256x256 images, labels of 2 classes with 10% void, and Adam's settings.
 */
import { lossTargets } from '../src/losses/crossEntropy.js';
import type { HostBatch } from '../src/train/step.js';
import type { AdamHyper } from '../src/train/adam.js';
import { VOID_INDEX } from '../src/data/classes.js';
import { makeRng } from '../src/util/random.js';

export const REFERENCE_N = 4;
export const REFERENCE_SIZE = 256;

/** The reference batch, the same at every call (seed 1); another side for a slow device's check. */
export function referenceBatch(s = REFERENCE_SIZE): HostBatch {
  const n = REFERENCE_N;
  const rng = makeRng(1);
  const images = Float32Array.from({ length: n * s * s * 3 }, () => rng.next() * 2 - 1);
  const labels = Uint8Array.from({ length: n * s * s }, () => (rng.next() < 0.1 ? VOID_INDEX : rng.next() < 0.5 ? 1 : 0));
  return { n, height: s, width: s, images, targets: lossTargets(labels, 2) };
}

/** Adam's settings for the benchmark at learning rate lr. */
export function referenceHyper(lr: number): AdamHyper {
  return { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
}
