/**
 * Conv2DBackpropFilter for the wasm backend, which has none.
 *
 * Stride 1 (every 3x3 conv of the U-Net): gapseg's SIMD kernel `conv_dw` computes
 * dW[kh,kw,ci,co] = sum over n,y,x of X[n, y+kh-pad, x+kw-pad, ci] * dY[n,y,x,co] straight
 * from X and dY on all threads (see kernels.c), with no im2col matrix; bench:kernels compares
 * it with the route below.
 *
 * Other strides, or without the SIMD kernels: the filter gradient is itself a convolution.
 * Swapping the batch and channel axes of X (ci becomes the batch, n the channels) and using
 * dY as a filter of size Ho x Wo with dilation s turns it into one call of XNNPACK's Conv2D.
 */
import * as tf from '@tensorflow/tfjs-core';
import { callKernel, release } from './compose.js';
import { outputs } from './heap.js';
import { kernelRoutes } from '../routes.js';
import { simdKernels, type SimdKernels } from '../simd/index.js';

/** Input channels per work unit of conv_dw (DW_MR in kernels.c). */
const CONV_DW_BLOCK = 4;

/**
 * Filter gradient of a stride-1 convolution of x [n, h, w, ci] whose output gradient is
 * dy [n, oh, ow, co], window kh x kw at padding (top, left): gapseg's SIMD conv_dw on the
 * kernel team, into a new tensor of outShape (kh*kw*ci*co values).
 */
export function filterGradientDirect(
  backend: tf.KernelBackend,
  simd: SimdKernels,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  kh: number,
  kw: number,
  top: number,
  left: number,
  outShape: number[],
): tf.TensorInfo {
  const [n, h, w, ci] = x.shape;
  const [, oh, ow, co] = dy.shape;
  const { infos } = outputs(backend, [outShape]);
  const args = [simd.address(x), simd.address(dy), simd.address(infos[0]), n, h, w, ci, co, kh, kw, top, left, oh, ow];
  simd.team.split('conv_dw', args, kh * kw * Math.ceil(ci / CONV_DW_BLOCK));
  return infos[0];
}

/** Kernel function computing the gradient of conv2d with respect to its filter. */
export function conv2dBackpropFilter(args: {
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
  const simd = simdKernels(backend);
  if (sh === 1 && sw === 1 && simd && kernelRoutes().filterGradient === 'gapseg') {
    return filterGradientDirect(backend, simd, x, dy, kh, kw, top, left, filterShape);
  }
  // Output extent must be exactly kh x kw: pad (or crop, if negative) at the far side.
  let bottom = kh + (ho - 1) * sh - h - top;
  let right = kw + (wo - 1) * sw - w - left;
  const b = 'wasm';
  let xs = x;
  const temps: tf.TensorInfo[] = [];
  if (bottom < 0 || right < 0) {
    // Rows/columns of X that no output position reads: drop them.
    xs = callKernel(
      tf.Slice,
      b,
      backend,
      { x },
      {
        begin: [0, 0, 0, 0],
        size: [x.shape[0], h + Math.min(bottom, 0), w + Math.min(right, 0), x.shape[3]],
      },
    );
    temps.push(xs);
    bottom = Math.max(bottom, 0);
    right = Math.max(right, 0);
  }
  const xt = callKernel(tf.Transpose, b, backend, { x: xs }, { perm: [3, 1, 2, 0] });
  const dyt = callKernel(tf.Transpose, b, backend, { x: dy }, { perm: [1, 2, 0, 3] });
  temps.push(xt, dyt);
  const conv = callKernel(
    tf.Conv2D,
    b,
    backend,
    { x: xt, filter: dyt },
    {
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
    },
  );
  temps.push(conv);
  const out = callKernel(tf.Transpose, b, backend, { x: conv }, { perm: [1, 2, 0, 3] });
  release(backend, ...temps);
  return out;
}
