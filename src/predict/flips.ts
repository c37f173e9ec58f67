/**
 * Flip averaging: the network's scores for a window averaged over its four flips (none,
 * left-right, up-down, both), each flipped back before the sum. Training augments with flips
 * and rotations by default, so each flip is a view the network has learnt; where their errors
 * differ, the average is right more often. The flips keep a window's shape, so windows,
 * blending and everything after them stay as they are.
 */
import type { NetFn } from './netFn.js';

/** Views averaged: the four flips of a window. */
export const FLIP_VIEWS = 4;

/** Copy planes [count, h, w] from `src` to `dst` flipped left-right (fx) and/or up-down (fy). */
function flipPlanes(src: ArrayLike<number>, dst: Float32Array, count: number, h: number, w: number, fx: boolean, fy: boolean): void {
  for (let p = 0; p < count; p++) {
    const base = p * h * w;
    for (let y = 0; y < h; y++) {
      const from = base + (fy ? h - 1 - y : y) * w;
      const to = base + y * w;
      if (fx) for (let x = 0; x < w; x++) dst[to + x] = src[from + w - 1 - x];
      else for (let x = 0; x < w; x++) dst[to + x] = src[from + x];
    }
  }
}

/**
 * A NetFn whose scores are the mean of `net`'s over the four flips of each window
 * (`numClasses` score planes per window; logits or probabilities, whichever the network gives).
 * Each flip is its own call with the caller's batch, so memory stays that of one call; the
 * network's time is four times as long. `onPlain` receives each call's unflipped scores, so
 * that a caller wanting the plain prediction too need not run the network a fifth time.
 */
export function flipAveraged(net: NetFn, numClasses: number, onPlain?: (scores: Float32Array) => void): NetFn {
  return async (input, n, height, width) => {
    const plane = height * width;
    const channels = input.length / (n * plane);
    const out = new Float32Array(n * numClasses * plane);
    const view = new Float32Array(input.length);
    const back = new Float32Array(out.length);
    for (let v = 0; v < FLIP_VIEWS; v++) {
      const fx = (v & 1) !== 0;
      const fy = (v & 2) !== 0;
      if (v > 0) flipPlanes(input, view, n * channels, height, width, fx, fy);
      const scores = await net(v === 0 ? input : view, n, height, width);
      if (scores.length !== out.length)
        throw new Error(`flipAveraged: the network gave ${scores.length} scores for ${n} window(s) of ${numClasses} class(es)`);
      if (v === 0) onPlain?.(Float32Array.from(scores));
      // A flip is its own inverse: flipping the scores back is the same copy.
      flipPlanes(scores, back, n * numClasses, height, width, fx, fy);
      for (let i = 0; i < out.length; i++) out[i] += back[i];
    }
    for (let i = 0; i < out.length; i++) out[i] /= FLIP_VIEWS;
    return out;
  };
}
