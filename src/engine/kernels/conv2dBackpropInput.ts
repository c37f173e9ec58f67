/**
 * Conv2DBackpropInput for wasm, built on a forward convolution.
 *
 * For stride 1 the input gradient is a plain convolution of dY with the filter rotated by
 * 180 degrees and its channel axes swapped, padded by (k - 1 - pad): gapseg's direct SIMD
 * conv, which rotates the filter while packing it (conv2d.ts), or else XNNPACK's Conv2D after
 * an explicit rotation. The stock wasm kernel is far slower than a forward conv of the same
 * shapes (bench:kernels); other strides, which would need zero-insertion, fall back to it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { callKernel, release } from './compose.js';
import { convDirect, stockConvForced } from './conv2d.js';
import { simdKernels } from '../simd/index.js';

/** Wrap the stock Conv2DBackpropInput with a fast path for stride 1, no dilation, NHWC. */
export function conv2dBackpropInputViaConv(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as tf.KernelBackend;
    const dy = inputs.dy as tf.TensorInfo;
    const filter = inputs.filter as tf.TensorInfo;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as {
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
      dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      inputShape: [number, number, number, number];
    };
    const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
    if (sh !== 1 || sw !== 1 || dataFormat === 'NCHW') return original(args);
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const { top, bottom, left, right } = info.padInfo;
    const kh = info.filterHeight;
    const kw = info.filterWidth;
    const simd = simdKernels(backend);
    if (simd && !stockConvForced() && inputShape[3] % 4 === 0) {
      return convDirect(backend, simd, dy, filter, true, kh - 1 - top, kw - 1 - left, inputShape);
    }
    const b = 'wasm';
    const flipped = callKernel(tf.Reverse, b, backend, { x: filter }, { dims: [0, 1] });
    const swapped = callKernel(tf.Transpose, b, backend, { x: flipped }, { perm: [0, 1, 3, 2] });
    const out = callKernel(
      tf.Conv2D,
      b,
      backend,
      { x: dy, filter: swapped },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [kh - 1 - top, kh - 1 - bottom],
          [kw - 1 - left, kw - 1 - right],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [1, 1],
        dimRoundingMode: undefined,
      },
    );
    release(backend, flipped, swapped);
    return out;
  };
}
