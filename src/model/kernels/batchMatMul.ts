/**
 * BatchMatMul on wasm. The stock kernel uses XNNPACK only for a single, untransposed
 * product, and even then without the thread pool; with transposeA or transposeB (every
 * matMul gradient) it falls back to a naive scalar loop (measured ~100x slower). Here a
 * single product runs as a 1x1 Conv2D, which is XNNPACK's GEMM on all threads, after
 * explicit transposes of the operands that need them; batched products transpose and then
 * call the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { callKernel, matMulAsConv, release } from './compose.js';

function swapLastTwo(backend: tf.KernelBackend, x: tf.TensorInfo): tf.TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return callKernel(tf.Transpose, 'wasm', backend, { x }, { perm });
}

/** Wrap the stock BatchMatMul: explicit transposes, and single products through Conv2D. */
export function batchMatMulWithoutTransposeA(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as tf.KernelBackend;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const temps: tf.TensorInfo[] = [];
    let a = inputs.a as tf.TensorInfo;
    let b = inputs.b as tf.TensorInfo;
    if (transposeA) temps.push((a = swapLastTwo(backend, a)));
    if (transposeB) temps.push((b = swapLastTwo(backend, b)));
    const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    let out: tf.TensorInfo;
    if (batchA === 1 && batchB === 1) {
      const [m, k] = a.shape.slice(-2);
      const n = b.shape[b.shape.length - 1];
      const y = matMulAsConv(backend, a, b, m, k, n);
      const outShape = [...a.shape.slice(0, -2), m, n];
      out = callKernel(tf.Reshape, 'wasm', backend, { x: y }, { shape: outShape });
      temps.push(y);
    } else {
      out = original({ inputs: { a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
    }
    release(backend, ...temps);
    return out;
  };
}
