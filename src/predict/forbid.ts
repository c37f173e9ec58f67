/**
 * Forbidding classes: the predicted class of a pixel is the argmax over the allowed
 * classes only, so a forbidden class (e.g. the "void" channel of a model trained with void
 * as a class) can never be predicted, whatever its score. Works on raw logits or
 * probabilities, NHWC or NCHW, and costs the same as a plain argmax (the loops run over
 * the allowed class planes, never testing classes per pixel).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GapsegError } from '../util/errors.js';

export type Layout = 'nhwc' | 'nchw';

/** The allowed class indices out of `numClasses`, refusing to forbid them all. */
export function allowedClasses(numClasses: number, forbidden: readonly number[]): number[] {
  for (const f of forbidden) {
    if (!Number.isInteger(f) || f < 0 || f >= numClasses) throw new GapsegError(`cannot forbid class ${f}: the model has classes 0..${numClasses - 1}`);
  }
  const allowed = [...Array(numClasses).keys()].filter((c) => !forbidden.includes(c));
  if (allowed.length === 0) throw new GapsegError('every class is forbidden; at least one must stay allowed');
  return allowed;
}

/**
 * Argmax over allowed classes of per-pixel scores for `pixels` pixels. Ties go to the
 * lower class index, as with a plain argmax. Output: class indices (0..K-1).
 */
export function maskedArgmax(scores: Float32Array, pixels: number, numClasses: number, allowed: readonly number[], layout: Layout): Uint8Array {
  const out = new Uint8Array(pixels);
  const best = new Float32Array(pixels);
  const first = allowed[0];
  out.fill(first);
  if (layout === 'nchw') {
    best.set(scores.subarray(first * pixels, (first + 1) * pixels));
    for (let a = 1; a < allowed.length; a++) {
      const c = allowed[a];
      const plane = scores.subarray(c * pixels, (c + 1) * pixels);
      for (let i = 0; i < pixels; i++) {
        const v = plane[i];
        if (v > best[i]) {
          best[i] = v;
          out[i] = c;
        }
      }
    }
    return out;
  }
  const k = numClasses;
  for (let i = 0; i < pixels; i++) best[i] = scores[i * k + first];
  for (let a = 1; a < allowed.length; a++) {
    const c = allowed[a];
    for (let i = 0, j = c; i < pixels; i++, j += k) {
      const v = scores[j];
      if (v > best[i]) {
        best[i] = v;
        out[i] = c;
      }
    }
  }
  return out;
}

/**
 * Tensor version for NHWC logits: argMax over the allowed channels only, mapped back to
 * class indices. (Adding -Infinity to forbidden channels is not enough: where every allowed
 * score is -Infinity too, the tie goes to the lowest index, which may be forbidden.)
 */
export function maskedArgmaxTensor(logits: tf.Tensor, forbidden: readonly number[]): tf.Tensor {
  return tf.tidy(() => {
    const axis = logits.shape.length - 1;
    const allowed = allowedClasses(logits.shape[axis], forbidden);
    if (forbidden.length === 0) return tf.argMax(logits, axis);
    const best = tf.argMax(tf.gather(logits, allowed, axis), axis);
    return tf.gather(tf.tensor1d(allowed, 'int32'), best);
  });
}
