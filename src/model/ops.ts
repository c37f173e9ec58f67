/**
 * Fused building blocks of the U-Net with hand-written gradients. The generic tfjs
 * gradients of batch norm and of `stack` go through Tile, Unpack and axis-0 reductions,
 * which are slow on wasm (measured: Unpack and Tile were half of a training step). Here every
 * reduction over pixels is a matrix product with a row of ones, which XNNPACK runs fast.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Column sums of a [M, C] matrix as a [1, C] matrix, via a product with ones. */
function columnSums(x2: tf.Tensor2D, ones: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(ones, x2);
}

/** Statistics a training forward pass leaves for the moving averages. */
export interface BnBatchStats {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  count: number;
}

/**
 * Training-mode batch norm followed by ReLU: normalise with the batch's own mean and
 * (biased) variance per channel, scale by gamma, shift by beta, clamp at 0. `record`
 * receives kept copies of the batch mean and variance.
 */
export function batchNormReluTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
  record?: (s: BnBatchStats) => void,
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const m = n * h * w;
  const op = tf.customGrad(((xIn: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const x2 = tf.reshape(xIn, [m, c]) as tf.Tensor2D;
    const ones = tf.ones([1, m]) as tf.Tensor2D;
    const mean = tf.div(columnSums(x2, ones), m);
    const xc = tf.sub(x2, mean) as tf.Tensor2D;
    const variance = tf.div(columnSums(tf.square(xc) as tf.Tensor2D, ones), m);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(xc, rstd);
    const y = tf.relu(tf.add(tf.mul(xhat, tf.reshape(g, [1, c])), tf.reshape(b, [1, c])));
    if (record) {
      record({ mean: tf.keep(tf.reshape(mean, [c])), variance: tf.keep(tf.reshape(variance, [c])), count: m });
    }
    save([xhat, rstd, g, y]);
    return {
      value: tf.reshape(y, [n, h, w, c]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sXhat, sRstd, sG, sY] = saved;
        const onesB = tf.ones([1, m]) as tf.Tensor2D;
        // ReLU: gradient flows only where the output was positive.
        const dyb = tf.mul(tf.reshape(dy, [m, c]), tf.step(sY)) as tf.Tensor2D;
        const dbeta = columnSums(dyb, onesB);
        const dgamma = columnSums(tf.mul(dyb, sXhat) as tf.Tensor2D, onesB);
        // dx = gamma * rstd / m * (m * dy - dbeta - xhat * dgamma)
        const coef = tf.div(tf.mul(tf.reshape(sG, [1, c]), sRstd), m);
        const inner = tf.sub(tf.sub(tf.mul(dyb, m), dbeta), tf.mul(sXhat, dgamma));
        const dx = tf.reshape(tf.mul(inner, coef), [n, h, w, c]);
        return [dx, tf.reshape(dgamma, [c]), tf.reshape(dbeta, [c])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, gamma, beta) as tf.Tensor4D;
}

/** Inference-mode batch norm followed by ReLU, with the moving statistics. */
export function batchNormReluInfer(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  movingMean: tf.Tensor1D,
  movingVariance: tf.Tensor1D,
  eps: number,
): tf.Tensor4D {
  return tf.relu(tf.batchNorm(x, movingMean, movingVariance, beta, gamma, eps)) as tf.Tensor4D;
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
