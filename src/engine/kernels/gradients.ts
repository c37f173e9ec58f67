/**
 * Gradients that hand-written backward passes need and TensorFlow.js lacks or runs slowly,
 * one pass each over tensor memory: 2x2 max-pooling, bias gradients (per-channel sums) and
 * ReLU6 from its output.
 * SIMD on the kernel team's threads on wasm, this JavaScript on cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import { f32, outputs, registerBoth } from './heap.js';
import { WEBGPU, registerTensorKernel } from './compose.js';
import { simdKernels } from '../simd/index.js';

export const MAXPOOL2_GRAD = 'GapsegMaxPool2x2Grad';
export const CHANNEL_SUMS = 'GapsegChannelSums';
export const RELU6_GRAD = 'GapsegRelu6Grad';

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap };

/**
 * Gradient of 2x2/stride-2 max pooling: inputs dy [N,H/2,W/2,C], x [N,H,W,C] (the pooled
 * input) and y (the pooled output); each dy goes to the first position of its window that
 * holds the maximum, as the forward pass (XNNPACK) picks it.
 */
function maxPoolGrad(args: Args): tf.TensorInfo {
  const backend = args.backend as tf.KernelBackend;
  const { dy, x, y } = args.inputs as Record<string, tf.TensorInfo>;
  const [n, h, w, c] = x.shape;
  const { infos, views } = outputs(backend, [x.shape]);
  const simd = simdKernels(backend);
  if (simd) {
    simd.team.split('maxpool2x2_grad', [simd.address(dy), simd.address(x), simd.address(y), simd.address(infos[0]), h, w, c], n * (h >> 1));
    return infos[0];
  }
  const dx = views[0];
  dx.fill(0);
  const dyv = f32(backend, dy);
  const xv = f32(backend, x);
  const yv = f32(backend, y);
  const ho = h >> 1;
  const wo = w >> 1;
  const rowStride = w * c;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        const o = ((b * ho + i) * wo + j) * c;
        const p00 = ((b * h + 2 * i) * w + 2 * j) * c;
        for (let k = 0; k < c; k++) {
          const m = yv[o + k];
          const p = p00 + k;
          const target = xv[p] === m ? p : xv[p + c] === m ? p + c : xv[p + rowStride] === m ? p + rowStride : p + rowStride + c;
          dx[target] = dyv[o + k];
        }
      }
    }
  }
  return infos[0];
}

/** Sums over all axes but the last: x [..., C] -> [C] (bias gradients). */
function channelSums(args: Args): tf.TensorInfo {
  const backend = args.backend as tf.KernelBackend;
  const { x } = args.inputs as Record<string, tf.TensorInfo>;
  const c = x.shape[x.shape.length - 1];
  const { infos, views } = outputs(backend, [[c]]);
  const simd = simdKernels(backend);
  if (simd) {
    // Chunks of rows on the kernel team's threads; their float64 sums added in chunk order.
    const m = x.shape.reduce((a, b) => a * b, 1) / c;
    const parts = simd.team.size;
    // Scratch: c float64 sums per chunk, then 2c float32 accumulators per chunk.
    simd.withScratch(16 * c * parts, (sums) => {
      simd.team.split('channel_sums_part', [simd.address(x), m, c, parts, sums], parts);
      const all = simd.f64(sums, c * parts);
      const out = f32(backend, infos[0]);
      for (let k = 0; k < c; k++) {
        let total = 0;
        for (let u = 0; u < parts; u++) total += all[u * c + k];
        out[k] = total;
      }
    });
    return infos[0];
  }
  const xv = f32(backend, x);
  const acc = new Float64Array(c);
  for (let i = 0; i < xv.length; i += c) for (let k = 0; k < c; k++) acc[k] += xv[i + k];
  views[0].set(acc);
  return infos[0];
}

/** Gradient through ReLU6 from its output y: dy where 0 < y < 6, else 0 (one pass; TF.js's takes four kernels). */
function relu6Grad(args: Args): tf.TensorInfo {
  const backend = args.backend as tf.KernelBackend;
  const { dy, y } = args.inputs as Record<string, tf.TensorInfo>;
  const { infos, views } = outputs(backend, [y.shape]);
  const n = y.shape.reduce((a, b) => a * b, 1);
  const simd = simdKernels(backend);
  if (simd) {
    const parts = simd.team.size;
    simd.team.split('relu6_grad_part', [simd.address(dy), simd.address(y), simd.address(infos[0]), n, parts], parts);
    return infos[0];
  }
  const dyv = f32(backend, dy);
  const yv = f32(backend, y);
  const dx = views[0];
  for (let i = 0; i < n; i++) dx[i] = yv[i] > 0 && yv[i] < 6 ? dyv[i] : 0;
  return infos[0];
}

/** The max-pooling gradient in ops (WebGPU): the same first-maximum rule, window position by position. */
function maxPoolGradOps(t: Record<string, tf.Tensor>): tf.Tensor {
  const { dy, x, y } = t;
  const [n, h, w, c] = x.shape;
  const isMax = (a: number, b: number) => tf.cast(tf.equal(tf.stridedSlice(x, [0, a, b, 0], [n, h, w, c], [1, 2, 2, 1]), y), 'float32');
  const first00 = isMax(0, 0);
  const first01 = tf.mul(isMax(0, 1), tf.sub(1, first00));
  const first10 = tf.mul(isMax(1, 0), tf.sub(tf.sub(1, first00), first01));
  const first11 = tf.sub(tf.sub(tf.sub(1, first00), first01), first10);
  // Interleave columns (2j + b), then rows (2i + a).
  const row = (left: tf.Tensor, right: tf.Tensor) => tf.reshape(tf.stack([tf.mul(dy, left), tf.mul(dy, right)], 3), [n, h / 2, w, c]);
  return tf.reshape(tf.stack([row(first00, first01), row(first10, first11)], 2), [n, h, w, c]);
}

function channelSumsOps(t: Record<string, tf.Tensor>): tf.Tensor {
  const c = t.x.shape[t.x.shape.length - 1];
  return tf.sum(tf.reshape(t.x, [-1, c]), 0);
}

function relu6GradOps(t: Record<string, tf.Tensor>): tf.Tensor {
  return tf.mul(t.dy, tf.mul(tf.step(t.y), tf.step(tf.sub(6, t.y))));
}

/** Register these kernels for wasm and cpu, and their compositions for WebGPU. */
export function registerGradientKernels(): void {
  registerBoth(MAXPOOL2_GRAD, maxPoolGrad as unknown as tf.KernelFunc);
  registerBoth(CHANNEL_SUMS, channelSums as unknown as tf.KernelFunc);
  registerBoth(RELU6_GRAD, relu6Grad as unknown as tf.KernelFunc);
  registerTensorKernel(MAXPOOL2_GRAD, WEBGPU, maxPoolGradOps);
  registerTensorKernel(CHANNEL_SUMS, WEBGPU, channelSumsOps);
  registerTensorKernel(RELU6_GRAD, WEBGPU, relu6GradOps);
}
