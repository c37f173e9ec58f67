/**
 * Forbidding classes: the predicted class of a pixel is the argmax over the allowed classes
 * only, so a forbidden class (e.g. the "void" channel of a model trained with void as a class)
 * can never be predicted, whatever its score. This is the one decision of a pixel's class:
 * prediction (rows.ts), the viewer and the tests call argmaxAllowed. The loops run over the
 * allowed class planes and never read a forbidden one, so forbidding costs nothing.
 * Browser-safe (the viewer page imports it).
 */
import { GapsegError } from '../util/errors.js';

/** Per-class score planes: planes[c][i] is the score (logit or probability) of class c at pixel i. */
export type ScorePlanes = readonly ArrayLike<number>[];

/** The allowed class indices out of `numClasses`, refusing to forbid them all. */
export function allowedClasses(numClasses: number, forbidden: readonly number[]): number[] {
  for (const f of forbidden) {
    if (!Number.isInteger(f) || f < 0 || f >= numClasses)
      throw new GapsegError(`cannot forbid class ${f}: the model has classes 0..${numClasses - 1}`);
  }
  const allowed = [...Array(numClasses).keys()].filter((c) => !forbidden.includes(c));
  if (allowed.length === 0) throw new GapsegError('every class is forbidden; at least one must stay allowed');
  return allowed;
}

/**
 * Argmax over the `allowed` classes (in increasing order) of pixels 0..n-1, written to
 * out[offset + i]. Ties go to the lower class index, as with a plain argmax.
 */
export function argmaxAllowed(
  planes: ScorePlanes,
  allowed: readonly number[],
  n: number,
  out: Uint8Array = new Uint8Array(n),
  offset = 0,
): Uint8Array {
  const first = allowed[0];
  const best = planes[first];
  if (allowed.length === 2) {
    const b = allowed[1];
    const pb = planes[b];
    for (let i = 0; i < n; i++) out[offset + i] = pb[i] > best[i] ? b : first;
    return out;
  }
  out.fill(first, offset, offset + n);
  if (allowed.length === 1) return out;
  const top = new Float32Array(n);
  for (let i = 0; i < n; i++) top[i] = best[i];
  for (let a = 1; a < allowed.length; a++) {
    const c = allowed[a];
    const p = planes[c];
    for (let i = 0; i < n; i++) {
      if (p[i] > top[i]) {
        top[i] = p[i];
        out[offset + i] = c;
      }
    }
  }
  return out;
}

/** Pixel-interleaved scores [n, k] (HWC) as k planes (copies). */
export function planesOf(interleaved: ArrayLike<number>, n: number, k: number): Float32Array[] {
  const planes = Array.from({ length: k }, () => new Float32Array(n));
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) planes[c][i] = interleaved[i * k + c];
  return planes;
}
