/**
 * Conv2D on wasm through gapseg's SIMD kernel `conv_fwd` on all threads (see kernels.c) for
 * stride 1, no dilation, NHWC and output channels in multiples of 4: every 3x3 conv of the
 * U-Net, forward and (conv2dBackpropInput.ts) input gradient. XNNPACK's Conv2D, the stock
 * kernel, keeps the other cases (strides, the 1x1 head with 2 outputs). Besides its speed in
 * a single call, it avoids a cost XNNPACK pays in training: XNNPACK caches an operator with
 * its packed filter per filter tensor, and every step brings new filters.
 */
import * as tf from '@tensorflow/tfjs-core';
import { outputs } from './heap.js';
import { simdKernels, type SimdKernels } from './simd/index.js';

/** Whether the direct SIMD convolution is switched off (GAPSEG_CONV_ROUTE=xnnpack: tests, benchmarks). */
export function stockConvForced(): boolean {
  return process.env.GAPSEG_CONV_ROUTE === 'xnnpack';
}

/**
 * Stride-1 convolution of x [n, h, w, cin] by filter [kh, kw, ci, co] (rotated, for an input
 * gradient: then cin = co and the output has ci channels) with padding (top, left), into a new
 * tensor of outShape. The output channel count must be a multiple of 4.
 */
export function convDirect(
  backend: tf.KernelBackend,
  simd: SimdKernels,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  rotate: boolean,
  top: number,
  left: number,
  outShape: [number, number, number, number],
): tf.TensorInfo {
  const [n, h, w, cin] = x.shape;
  const [kh, kw, ci, co] = filter.shape;
  const { infos } = outputs(backend, [outShape]);
  simd.withScratch(kh * kw * ci * co * 4, (packed) => {
    simd.convPackFilter(simd.address(filter), packed, kh, kw, ci, co, rotate ? 1 : 0);
    const argv = [simd.address(x), packed, simd.address(infos[0]), n, h, w, cin, outShape[3], kh, kw, top, left, outShape[1], outShape[2]];
    simd.team.split('conv_fwd', argv, n * outShape[1]);
  });
  return infos[0];
}

/** Wrap the stock Conv2D with the direct SIMD path where it applies. */
export function conv2dDirect(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as tf.KernelBackend;
    const x = args.inputs.x as tf.TensorInfo;
    const filter = args.inputs.filter as tf.TensorInfo;
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = args.attrs as unknown as {
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
      dataFormat: 'NHWC' | 'NCHW';
      dilations: [number, number] | number;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    const simd = simdKernels(backend);
    if (!simd || dataFormat === 'NCHW' || filter.shape[3] % 4 !== 0 || stockConvForced()) return original(args);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      strides,
      dilations ?? 1,
      pad,
      dimRoundingMode,
    );
    if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return original(args);
    return convDirect(backend, simd, x, filter, false, info.padInfo.top, info.padInfo.left, info.outShape);
  };
}
