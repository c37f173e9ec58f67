/**
 * Conv2DBackpropFilter for the wasm backend, which has none.
 *
 * The filter gradient is itself a convolution: dW[kh,kw,ci,co] = sum over n,y,x of
 * X[n, y*s+kh-pad, x*s+kw-pad, ci] * dY[n,y,x,co]. Swapping the batch and channel axes of
 * X (ci becomes the batch, n the channels) and using dY as a filter of size Ho x Wo with
 * dilation s turns it into one call of the fast XNNPACK Conv2D kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { callKernel, matMulAsConv, release } from './compose.js';
import { IM2COL_T } from './im2col.js';

/** Kernel function computing the gradient of conv2d with respect to its filter. */
export function conv2dBackpropFilterViaConv(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter: NCHW is not supported on wasm');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const [kh, kw] = [info.filterHeight, info.filterWidth];
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  const [, h, w] = x.shape;
  const [, ho, wo] = dy.shape;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  if (sh === 1 && sw === 1 && useIm2Col(x.shape, dy.shape[3])) {
    return viaIm2Col(backend, x, dy, filterShape, top, left, ho, wo);
  }
  // Output extent must be exactly kh x kw: pad (or crop, if negative) at the far side.
  let bottom = kh + (ho - 1) * sh - h - top;
  let right = kw + (wo - 1) * sw - w - left;
  const b = 'wasm';
  let xs = x;
  const temps: tf.TensorInfo[] = [];
  if (bottom < 0 || right < 0) {
    // Rows/columns of X that no output position reads: drop them.
    xs = callKernel(tf.Slice, b, backend, { x }, {
      begin: [0, 0, 0, 0],
      size: [x.shape[0], h + Math.min(bottom, 0), w + Math.min(right, 0), x.shape[3]],
    });
    temps.push(xs);
    bottom = Math.max(bottom, 0);
    right = Math.max(right, 0);
  }
  const xt = callKernel(tf.Transpose, b, backend, { x: xs }, { perm: [3, 1, 2, 0] });
  const dyt = callKernel(tf.Transpose, b, backend, { x: dy }, { perm: [1, 2, 0, 3] });
  temps.push(xt, dyt);
  const conv = callKernel(tf.Conv2D, b, backend, { x: xt, filter: dyt }, {
    strides: [1, 1],
    pad: [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ],
    dataFormat: 'NHWC',
    dilations: [sh, sw],
    dimRoundingMode: undefined,
  });
  temps.push(conv);
  const out = callKernel(tf.Transpose, b, backend, { x: conv }, { perm: [1, 2, 0, 3] });
  release(backend, ...temps);
  return out;
}

/**
 * Whether the im2col + GEMM route is faster than the dilated-convolution route for this
 * shape (measured on the reference U-Net's levels; see bench/kernels.ts).
 */
export function useIm2Col(xShape: number[], outChannels: number): boolean {
  // GAPSEG_DW_ROUTE=conv|im2col forces a route (tests of both, benchmarks).
  const forced = process.env.GAPSEG_DW_ROUTE;
  if (forced === 'conv' || forced === 'im2col') return forced === 'im2col';
  void outChannels;
  // Measured on the reference U-Net (bench/kernels.ts): im2col wins for few input channels
  // (the first layer) and for small maps; elsewhere the two are within noise or conv wins.
  const pixels = xShape[1] * xShape[2];
  return xShape[3] < 8 || pixels <= 32 * 32;
}

function viaIm2Col(
  backend: tf.KernelBackend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  filterShape: [number, number, number, number],
  top: number,
  left: number,
  outH: number,
  outW: number,
): tf.TensorInfo {
  const [kh, kw, ci, co] = filterShape;
  const pixels = dy.shape[0] * outH * outW;
  const a = callKernel(IM2COL_T, 'wasm', backend, { x }, { kh, kw, top, left, outH, outW });
  const prod = matMulAsConv(backend, a, dy, kh * kw * ci, pixels, co);
  const out = callKernel(tf.Reshape, 'wasm', backend, { x: prod }, { shape: [kh, kw, ci, co] });
  release(backend, a, prod);
  return out;
}
