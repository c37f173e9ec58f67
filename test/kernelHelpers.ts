/** What the kernel tests share: running an op on another backend, and comparing results. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

/** Run f on a backend with fresh tensors from the given values; return plain arrays. */
export async function onBackend(
  backend: string,
  f: (...t: tf.Tensor[]) => tf.Tensor[],
  inputs: [Float32Array, number[]][],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  try {
    return tf.tidy(() => f(...inputs.map(([v, s]) => tf.tensor(v, s))).map((t) => t.dataSync() as Float32Array));
  } finally {
    await tf.setBackend('wasm');
  }
}

/** Largest absolute difference, relative to the largest magnitude of the reference `b`. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d / scale;
}
