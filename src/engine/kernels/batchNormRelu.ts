/**
 * Fused training-mode batch norm + ReLU kernels over the tensors' memory: SIMD wasm
 * (simd/kernels.c, row passes split over the kernel team's threads) on the wasm backend, this
 * JavaScript on the cpu backend and as fallback. The generic composition (moments, batchNorm, relu and their autodiff) made about
 * fifteen passes over each activation on wasm; these make two forward and two backward.
 * x is NHWC viewed as [M, C]; statistics are per channel, accumulated in float64.
 *
 *   forward:  mean, rstd = 1/sqrt(var + eps) (biased variance), y = max(0, (x-mean)*rstd*gamma + beta)
 *   backward: g = dy where y > 0; xhat = (x-mean)*rstd
 *             dbeta = sum g, dgamma = sum g*xhat
 *             dx = gamma*rstd/M * (M*g - dbeta - xhat*dgamma)
 */
import * as tf from '@tensorflow/tfjs-core';
import { f32, outputs, registerBoth } from './heap.js';
import { WEBGPU, registerTensorKernel } from './compose.js';
import { simdKernels } from '../simd/index.js';

export const BN_RELU_FORWARD = 'GapsegBnReluForward';
export const BN_RELU_BACKWARD = 'GapsegBnReluBackward';

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap };

/** Forward kernel: inputs x, gamma, beta; attr epsilon; outputs y, mean, rstd. */
function forward(args: Args): tf.TensorInfo[] {
  const backend = args.backend as tf.KernelBackend;
  const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  const eps = args.attrs.epsilon as number;
  const c = x.shape[x.shape.length - 1];
  const { infos, views } = outputs(backend, [x.shape, [c], [c]]);
  const simd = simdKernels(backend);
  if (simd) {
    const m = x.shape.reduce((a, b) => a * b, 1) / c;
    const [y, mean, rstd] = infos.map((i) => simd.address(i));
    const xp = simd.address(x);
    // The row passes are split over the threads, one chunk of rows each (see kernels.c).
    const parts = simd.team.size;
    simd.withScratch(8 * c * (3 * parts + 2), (scratch) => {
      simd.team.split('bn_moments_part', [xp, m, c, parts, scratch], parts);
      simd.bnForwardFinish(xp, simd.address(gamma), simd.address(beta), mean, rstd, m, c, eps, parts, scratch);
      simd.team.split('bn_apply_part', [xp, y, m, c, parts, scratch], parts);
    });
    return infos;
  }
  const [y, meanOut, rstdOut] = views;
  const xv = f32(backend, x);
  const g = f32(backend, gamma);
  const b = f32(backend, beta);
  const n = xv.length;
  const m = n / c;
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let i = 0; i < n; i += c) {
    for (let k = 0; k < c; k++) {
      const v = xv[i + k];
      sum[k] += v;
      sq[k] += v * v;
    }
  }
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const mean = sum[k] / m;
    const variance = Math.max(sq[k] / m - mean * mean, 0);
    const rstd = 1 / Math.sqrt(variance + eps);
    meanOut[k] = mean;
    rstdOut[k] = rstd;
    scale[k] = g[k] * rstd;
    shift[k] = b[k] - mean * g[k] * rstd;
  }
  for (let i = 0; i < n; i += c) {
    for (let k = 0; k < c; k++) {
      const v = xv[i + k] * scale[k] + shift[k];
      y[i + k] = v > 0 ? v : 0;
    }
  }
  return infos;
}

/** Backward kernel: inputs dy, x, y, mean, rstd, gamma; outputs dx, dgamma, dbeta. */
function backward(args: Args): tf.TensorInfo[] {
  const backend = args.backend as tf.KernelBackend;
  const { dy, x, y, mean, rstd, gamma } = args.inputs as Record<string, tf.TensorInfo>;
  const c = x.shape[x.shape.length - 1];
  const { infos, views } = outputs(backend, [x.shape, [c], [c]]);
  const simd = simdKernels(backend);
  if (simd) {
    const m = x.shape.reduce((a, b) => a * b, 1) / c;
    const [dxp, dgp, dbp] = infos.map((i) => simd.address(i));
    const a = (t: tf.TensorInfo) => simd.address(t);
    const parts = simd.team.size;
    simd.withScratch(8 * c * (3 * parts + 2), (scratch) => {
      simd.team.split('bn_grad_sums_part', [a(dy), a(x), a(y), a(mean), a(rstd), m, c, parts, scratch], parts);
      simd.bnBackwardFinish(a(mean), a(rstd), a(gamma), dgp, dbp, m, c, parts, scratch);
      simd.team.split('bn_grad_apply_part', [a(dy), a(x), a(y), dxp, m, c, parts, scratch], parts);
    });
    return infos;
  }
  const [dx, dgamma, dbeta] = views;
  const dyv = f32(backend, dy);
  const xv = f32(backend, x);
  const yv = f32(backend, y);
  const mu = f32(backend, mean);
  const rs = f32(backend, rstd);
  const g = f32(backend, gamma);
  const n = xv.length;
  const m = n / c;
  const db = new Float64Array(c);
  const dg = new Float64Array(c);
  for (let i = 0; i < n; i += c) {
    for (let k = 0; k < c; k++) {
      if (yv[i + k] > 0) {
        const d = dyv[i + k];
        db[k] += d;
        dg[k] += d * (xv[i + k] - mu[k]) * rs[k];
      }
    }
  }
  // dx = k1*gated - k1/M*dbeta - k1/M*dgamma*(x-mean)*rstd  =  k1*gated + a + b*x
  const k1 = new Float32Array(c);
  const a = new Float32Array(c);
  const bx = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const s = g[k] * rs[k];
    const t = (s * dg[k] * rs[k]) / m;
    k1[k] = s;
    bx[k] = -t;
    a[k] = (-s * db[k]) / m + t * mu[k];
    dgamma[k] = dg[k];
    dbeta[k] = db[k];
  }
  for (let i = 0; i < n; i += c) {
    for (let k = 0; k < c; k++) {
      const gated = yv[i + k] > 0 ? dyv[i + k] : 0;
      dx[i + k] = k1[k] * gated + a[k] + bx[k] * xv[i + k];
    }
  }
  return infos;
}

/** The axes statistics run over: all but the channels. */
const pixelAxes = (x: tf.Tensor): number[] => x.shape.slice(0, -1).map((_, i) => i);

/** The forward kernel in ops (WebGPU), the statistics in two passes. */
function forwardOps(t: Record<string, tf.Tensor>, attrs: tf.NamedAttrMap): tf.Tensor[] {
  const { x, gamma, beta } = t;
  const axes = pixelAxes(x);
  const mean = tf.mean(x, axes);
  const centred = tf.sub(x, mean);
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), axes), attrs.epsilon as number));
  return [tf.relu(tf.add(tf.mul(centred, tf.mul(rstd, gamma)), beta)), mean, rstd];
}

/** The backward kernel in ops (WebGPU). */
function backwardOps(t: Record<string, tf.Tensor>): tf.Tensor[] {
  const { dy, x, y, mean, rstd, gamma } = t;
  const axes = pixelAxes(x);
  const m = x.size / x.shape[x.shape.length - 1];
  const gated = tf.mul(dy, tf.step(y));
  const xhat = tf.mul(tf.sub(x, mean), rstd);
  const dbeta = tf.sum(gated, axes);
  const dgamma = tf.sum(tf.mul(gated, xhat), axes);
  const dx = tf.mul(tf.div(tf.mul(gamma, rstd), m), tf.sub(tf.sub(tf.mul(gated, m), dbeta), tf.mul(xhat, dgamma)));
  return [dx, dgamma, dbeta];
}

/** Register the fused kernels for wasm and cpu, and their compositions for WebGPU. */
export function registerBatchNormReluKernels(): void {
  registerBoth(BN_RELU_FORWARD, forward as unknown as tf.KernelFunc);
  registerBoth(BN_RELU_BACKWARD, backward as unknown as tf.KernelFunc);
  registerTensorKernel(BN_RELU_FORWARD, WEBGPU, forwardOps);
  registerTensorKernel(BN_RELU_BACKWARD, WEBGPU, backwardOps);
}
