/**
 * BatchMatMul on wasm with transposeA: the stock kernel is ~100x slower with transposeA
 * than without (measured here), and every matMul gradient asks for it. Transposing A
 * explicitly first, then calling the fast path, costs one copy of A.
 */
import * as tf from '@tensorflow/tfjs-core';
import { callKernel, release } from './compose.js';

/** Wrap the stock BatchMatMul so that transposeA is done by an explicit transpose. */
export function batchMatMulWithoutTransposeA(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as tf.KernelBackend;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA) return original(args);
    const a = inputs.a as tf.TensorInfo;
    const rank = a.shape.length;
    const perm = [...Array(rank).keys()];
    [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
    const at = callKernel(tf.Transpose, 'wasm', backend, { x: a }, { perm });
    const out = original({ inputs: { a: at, b: inputs.b }, backend, attrs: { transposeA: false, transposeB } });
    release(backend, at);
    return out;
  };
}
