/**
 * Channel concatenation and split of NHWC tensors (the U-Net's skip connections). The stock
 * wasm Concat and Split copy in JavaScript, row by row, which made them a visible share of an
 * inference pass (bench/stepProfile.ts). SIMD wasm on wasm (pixels split over the kernel
 * team's threads), JavaScript on cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import { f32, outputs, registerBoth } from './heap.js';
import { WEBGPU, registerTensorKernel } from './compose.js';
import { simdKernels } from '../simd/index.js';

export const CONCAT_CHANNELS = 'GapsegConcatChannels';
export const SPLIT_CHANNELS = 'GapsegSplitChannels';

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap };

function concatChannels(args: Args): tf.TensorInfo {
  const backend = args.backend as tf.KernelBackend;
  const { a, b } = args.inputs as Record<string, tf.TensorInfo>;
  const ca = a.shape[a.shape.length - 1];
  const cb = b.shape[b.shape.length - 1];
  const pixels = a.shape.slice(0, -1).reduce((x, y) => x * y, 1);
  const bPixels = b.shape.slice(0, -1).reduce((x, y) => x * y, 1);
  if (pixels !== bPixels) throw new Error(`concatChannels: ${a.shape} and ${b.shape} differ in more than channels`);
  const { infos, views } = outputs(backend, [[...a.shape.slice(0, -1), ca + cb]]);
  const simd = simdKernels(backend);
  if (simd) {
    simd.team.split('concat_channels', [simd.address(a), simd.address(b), simd.address(infos[0]), ca, cb], pixels);
    return infos[0];
  }
  const [av, bv, out] = [f32(backend, a), f32(backend, b), views[0]];
  for (let p = 0; p < pixels; p++) {
    out.set(av.subarray(p * ca, (p + 1) * ca), p * (ca + cb));
    out.set(bv.subarray(p * cb, (p + 1) * cb), p * (ca + cb) + ca);
  }
  return infos[0];
}

function splitChannels(args: Args): tf.TensorInfo[] {
  const backend = args.backend as tf.KernelBackend;
  const x = args.inputs.x as tf.TensorInfo;
  const ca = args.attrs.channelsA as number;
  const c = x.shape[x.shape.length - 1];
  const cb = c - ca;
  const lead = x.shape.slice(0, -1);
  const pixels = lead.reduce((p, q) => p * q, 1);
  const { infos, views } = outputs(backend, [
    [...lead, ca],
    [...lead, cb],
  ]);
  const simd = simdKernels(backend);
  if (simd) {
    simd.team.split('split_channels', [simd.address(x), simd.address(infos[0]), simd.address(infos[1]), ca, cb], pixels);
    return infos;
  }
  const [xv, av, bv] = [f32(backend, x), views[0], views[1]];
  for (let p = 0; p < pixels; p++) {
    av.set(xv.subarray(p * c, p * c + ca), p * ca);
    bv.set(xv.subarray(p * c + ca, (p + 1) * c), p * cb);
  }
  return infos;
}

/** Register the channel kernels for wasm and cpu, and as the stock ops on WebGPU. */
export function registerChannelKernels(): void {
  registerBoth(CONCAT_CHANNELS, concatChannels as unknown as tf.KernelFunc);
  registerBoth(SPLIT_CHANNELS, splitChannels as unknown as tf.KernelFunc);
  registerTensorKernel(CONCAT_CHANNELS, WEBGPU, (t) => tf.concat([t.a, t.b], -1));
  registerTensorKernel(SPLIT_CHANNELS, WEBGPU, (t, attrs) => {
    const ca = attrs.channelsA as number;
    return tf.split(t.x, [ca, t.x.shape[t.x.shape.length - 1] - ca], -1);
  });
}

/** [a, b] along the last axis (same leading shape). */
export function concatChannelsOp(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(CONCAT_CHANNELS, { a, b }, {}) as tf.Tensor;
}

/** Split the last axis into the first `channelsA` channels and the rest. */
export function splitChannelsOp(x: tf.Tensor, channelsA: number): [tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel(SPLIT_CHANNELS, { x }, { channelsA }) as unknown as [tf.Tensor, tf.Tensor];
}
