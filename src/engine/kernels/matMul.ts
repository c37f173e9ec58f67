/**
 * BatchMatMul on wasm. The stock kernel uses XNNPACK only for a single, untransposed
 * product, and even then without the thread pool; with transposeA or transposeB (every
 * matMul gradient) it falls back to a naive scalar loop, orders of magnitude slower. Here a
 * single A^T B (the weight gradient of a matMul, with a long inner dimension) is the
 * filter gradient of a 1x1 convolution, gapseg's SIMD conv_dw on all threads; A B and A B^T
 * with n a multiple of 4 are a 1x1 convolution, gapseg's SIMD conv_fwd; other single
 * products run as a 1x1 Conv2D, XNNPACK's GEMM on all threads, after explicit transposes of
 * the operands that need them; batched products transpose and then call the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { callKernel, matMulAsConv, release } from './compose.js';
import { simdKernels } from '../simd/index.js';
import { convDirect, stockConvForced } from './conv2d.js';
import { filterGradientDirect } from './conv2dBackpropFilter.js';

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function swapLastTwo(backend: tf.KernelBackend, x: tf.TensorInfo): tf.TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return callKernel(tf.Transpose, 'wasm', backend, { x }, { perm });
}

/** Wrap the stock BatchMatMul: single products (transposed or not) on the conv kernels, batched ones after explicit transposes. */
export function batchMatMulOnConvKernels(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as tf.KernelBackend;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const temps: tf.TensorInfo[] = [];
    let a = inputs.a as tf.TensorInfo;
    let b = inputs.b as tf.TensorInfo;
    // gapseg's kernels take single float32 products (batch dimensions all 1).
    const simd = a.dtype === 'float32' && b.dtype === 'float32' ? simdKernels(backend) : null;
    const single = (t: tf.TensorInfo) => t.shape.slice(0, -2).every((d) => d === 1);
    if (simd && transposeA && !transposeB && single(a) && single(b)) {
      // a [k, m], b [k, n] as a 1 x k image with m channels and its 1x1 conv's output gradient.
      const [k, m] = a.shape.slice(-2);
      const n = b.shape[b.shape.length - 1];
      const x = callKernel(tf.Reshape, 'wasm', backend, { x: a }, { shape: [1, 1, k, m] });
      const dy = callKernel(tf.Reshape, 'wasm', backend, { x: b }, { shape: [1, 1, k, n] });
      const out = filterGradientDirect(backend, simd, x, dy, 1, 1, 0, 0, [...a.shape.slice(0, -2), m, n]);
      release(backend, x, dy);
      return out;
    }
    const n = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    if (simd && !transposeA && single(a) && single(b) && n % 4 === 0 && !stockConvForced()) {
      // A B (or A B^T) as a 1x1 convolution of a by the filter b (rotated: channel axes
      // swapped); the m rows of a laid out as an image with rows of up to 256 pixels.
      const [m, k] = a.shape.slice(-2);
      const w = gcd(m, 256);
      const x = callKernel(tf.Reshape, 'wasm', backend, { x: a }, { shape: [1, m / w, w, k] });
      const f = callKernel(tf.Reshape, 'wasm', backend, { x: b }, { shape: transposeB ? [1, 1, n, k] : [1, 1, k, n] });
      const y = convDirect(backend, simd, x, f, transposeB, 0, 0, [1, m / w, w, n]);
      const out = callKernel(tf.Reshape, 'wasm', backend, { x: y }, { shape: [...a.shape.slice(0, -2), m, n] });
      release(backend, x, f, y);
      return out;
    }
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
