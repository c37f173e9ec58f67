/**
 * Building blocks of the U-Net with hand-written gradients. The generic tfjs gradients of
 * batch norm, stack and concat go through Tile, Unpack, SplitV and axis-0 reductions, which
 * are slow on wasm (measured: they were most of a training step).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BN_RELU_BACKWARD, BN_RELU_FORWARD } from '../engine/kernels/batchNormRelu.js';

/** Statistics a training forward pass leaves for the moving averages. */
export interface BnBatchStats {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  count: number;
}

/**
 * Training-mode batch norm followed by ReLU: normalise with the batch's own mean and
 * (biased) variance per channel, scale by gamma, shift by beta, clamp at 0. Runs the fused
 * kernels of kernels/batchNormRelu.ts; only x and y are kept for the backward pass (xhat is
 * recomputed there). `record` receives kept tensors of the batch mean and variance.
 */
export function batchNormReluTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
  record?: (s: BnBatchStats) => void,
): tf.Tensor4D {
  const [n, h, w] = x.shape;
  const op = tf.customGrad(((xIn: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, mean, rstd] = tf.engine().runKernel(BN_RELU_FORWARD, { x: xIn, gamma: g, beta: b }, { epsilon: eps }) as tf.Tensor[];
    if (record) {
      const variance = tf.tidy(() => tf.sub(tf.reciprocal(tf.square(rstd)), eps));
      record({ mean: tf.keep(mean.clone()) as tf.Tensor1D, variance: tf.keep(variance) as tf.Tensor1D, count: n * h * w });
    }
    save([xIn, y, mean, rstd, g]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sy, smean, srstd, sg] = saved;
        return tf.engine().runKernel(BN_RELU_BACKWARD, { dy, x: sx, y: sy, mean: smean, rstd: srstd, gamma: sg }, {}) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, gamma, beta) as tf.Tensor4D;
}

/**
 * 2x2 stride-2 transposed convolution as one matrix product and one transpose. Kernel
 * layout is Keras's Conv2DTranspose [2, 2, out, in]; without overlap,
 * y[2i+a, 2j+b, o] = sum_c x[i, j, c] * k[a, b, o, c] + bias[o].
 * (The generic path, Conv2DBackpropInput with stride 2, is slow on wasm.)
 */
export function upsample2x2(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, cin] = x.shape;
    const cout = kernel.shape[2];
    // [a, b, out, in] -> [in, a, b, out] -> [in, 4*out]
    const k2 = tf.reshape(tf.transpose(kernel, [3, 0, 1, 2]), [cin, 4 * cout]);
    const y = tf.reshape(tf.matMul(tf.reshape(x, [n * h * w, cin]), k2), [n, h, w, 2, 2 * cout]);
    // [n, i, j, a, (b, o)] -> [n, i, a, j, (b, o)] = [n, 2h, 2w, out]
    const up = tf.reshape(tf.transpose(y, [0, 1, 3, 2, 4]), [n, 2 * h, 2 * w, cout]);
    return tf.add(up, bias) as tf.Tensor4D;
  });
}

/**
 * A 3x3 'same' convolution of the channel concatenation [a, b], computed as the sum of two
 * convolutions with the matching halves of the kernel: same result and FLOPs, but no
 * concatenation of activations, whose gradient (a channel split) is slow on wasm.
 */
export function convOfConcat(a: tf.Tensor4D, b: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, , cout] = kernel.shape;
    const ca = a.shape[3];
    const cb = b.shape[3];
    const ka = tf.slice(kernel, [0, 0, 0, 0], [kh, kw, ca, cout]) as tf.Tensor4D;
    const kb = tf.slice(kernel, [0, 0, ca, 0], [kh, kw, cb, cout]) as tf.Tensor4D;
    return tf.add(tf.conv2d(a, ka, 1, 'same'), tf.conv2d(b, kb, 1, 'same')) as tf.Tensor4D;
  });
}
