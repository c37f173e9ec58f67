/**
 * Depthwise convolution on wasm (MobileNetV2's 3x3 layers): DepthwiseConv2dNative,
 * FusedDepthwiseConv2D (inference: bias and ReLU or ReLU6 applied in the store) and the two
 * gradients, which tfjs-backend-wasm does not have (tf.grad through depthwiseConv2d fails there
 * without them). gapseg's SIMD kernels depthwise_fwd, depthwise_dx and depthwise_dfilter
 * (kernels.c) on the kernel team for NHWC, channel multiplier 1 and no dilation, at any stride
 * and padding. XNNPACK's kernels keep the other forward cases, and the JavaScript below the
 * other gradient cases and every case without the SIMD module. Besides speed, the forward
 * avoids what XNNPACK's costs in training: it re-packs its operator when the filter changes,
 * which is every step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { f32, outputs } from './heap.js';
import { kernelRoutes } from '../routes.js';
import { simdKernels, type SimdKernels } from '../simd/index.js';

interface DepthwiseAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap };

/** Activation codes of depthwise_fwd's store. */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2 };

/** Whether the depthwise forward is routed to XNNPACK's kernel (tests, benchmarks). */
export function stockDepthwiseForced(): boolean {
  return kernelRoutes().depthwise === 'xnnpack';
}

/** The geometry of a depthwise convolution of x by a filter of filterShape [kh, kw, c, multiplier]. */
function geometry(xShape: number[], filterShape: number[], attrs: DepthwiseAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
}

/** The SIMD kernels if they apply to this geometry: NHWC, channel multiplier 1, no dilation. */
function simdFor(backend: tf.KernelBackend, info: tf.backend_util.Conv2DInfo, attrs: DepthwiseAttrs): SimdKernels | null {
  const simd = simdKernels(backend);
  if (!simd || stockDepthwiseForced() || (attrs.dataFormat ?? 'NHWC') !== 'NHWC') return null;
  if (info.outChannels !== info.inChannels || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  return simd;
}

/** The kernels' shared arguments: n, h, w, c, kh, kw, sh, sw, top, left, oh, ow. */
function geometryArgs(info: tf.backend_util.Conv2DInfo): number[] {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
    info.outHeight,
    info.outWidth,
  ];
}

/** Forward on depthwise_fwd, output rows split over the kernel team; act as ACTIVATIONS. */
function forwardSimd(
  backend: tf.KernelBackend,
  simd: SimdKernels,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  bias: tf.TensorInfo | undefined,
  act: number,
): tf.TensorInfo {
  const { infos } = outputs(backend, [info.outShape]);
  const args = [simd.address(x), simd.address(filter), bias ? simd.address(bias) : 0, simd.address(infos[0]), ...geometryArgs(info), act];
  simd.team.split('depthwise_fwd', args, info.batchSize * info.outHeight);
  return infos[0];
}

function float32(...infos: (tf.TensorInfo | undefined)[]): boolean {
  return infos.every((i) => !i || i.dtype === 'float32');
}

/** Wrap the stock DepthwiseConv2dNative with gapseg's SIMD kernel where it applies. */
export function depthwiseConv2dDirect(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as tf.KernelBackend;
    const { x, filter } = args.inputs as Record<string, tf.TensorInfo>;
    const attrs = args.attrs as unknown as DepthwiseAttrs;
    const info = geometry(x.shape, filter.shape, attrs);
    const simd = float32(x, filter) ? simdFor(backend, info, attrs) : null;
    return simd ? forwardSimd(backend, simd, x, filter, info, undefined, 0) : original(args);
  };
}

/**
 * Wrap the stock FusedDepthwiseConv2D with gapseg's SIMD kernel where it applies: no
 * activation, ReLU or ReLU6, a bias of one value per channel or none.
 */
export function fusedDepthwiseConv2dDirect(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as tf.KernelBackend;
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as unknown as DepthwiseAttrs & { activation?: string };
    const info = geometry(x!.shape, filter!.shape, attrs);
    const act = ACTIVATIONS[attrs.activation ?? 'linear'];
    const c = info.outChannels;
    const biasOk = !bias || (bias.shape.reduce((a, b) => a * b, 1) === c && bias.shape[bias.shape.length - 1] === c);
    const simd = float32(x, filter, bias) && biasOk && act !== undefined && !preluActivationWeights ? simdFor(backend, info, attrs) : null;
    return simd ? forwardSimd(backend, simd, x!, filter!, info, bias, act) : original(args);
  };
}

/** DepthwiseConv2dNativeBackpropInput: inputs dy, filter; attrs as the forward's, and inputShape. */
function backpropInput(args: Args): tf.TensorInfo {
  const backend = args.backend as tf.KernelBackend;
  const { dy, filter } = args.inputs as Record<string, tf.TensorInfo>;
  const attrs = args.attrs as unknown as DepthwiseAttrs & { inputShape: number[] };
  const info = geometry(attrs.inputShape, filter.shape, attrs);
  const simd = float32(dy, filter) ? simdFor(backend, info, attrs) : null;
  const { infos, views } = outputs(backend, [info.inShape]);
  if (simd) {
    const args = [simd.address(dy), simd.address(filter), simd.address(infos[0]), ...geometryArgs(info)];
    simd.team.split('depthwise_dx', args, info.batchSize * info.inHeight);
    return infos[0];
  }
  inputGradientJs(info, f32(backend, dy), f32(backend, filter), views[0]);
  return infos[0];
}

/** DepthwiseConv2dNativeBackpropFilter: inputs x, dy; attrs as the forward's, and filterShape. */
function backpropFilter(args: Args): tf.TensorInfo {
  const backend = args.backend as tf.KernelBackend;
  const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
  const attrs = args.attrs as unknown as DepthwiseAttrs & { filterShape: number[] };
  const info = geometry(x.shape, attrs.filterShape, attrs);
  const simd = float32(x, dy) ? simdFor(backend, info, attrs) : null;
  const { infos, views } = outputs(backend, [attrs.filterShape]);
  if (simd) {
    const taps = info.filterHeight * info.filterWidth;
    const units = Math.ceil(info.inChannels / 4);
    // Per unit of 4 channels: its float64 sums, then (after all units') its float32 sums.
    simd.withScratch(units * taps * 4 * (8 + 4), (scratch) => {
      const args = [simd.address(x), simd.address(dy), simd.address(infos[0]), ...geometryArgs(info), scratch];
      simd.team.split('depthwise_dfilter', args, units);
    });
    return infos[0];
  }
  filterGradientJs(info, f32(backend, x), f32(backend, dy), views[0]);
  return infos[0];
}

/** Input gradient in JavaScript, any channel multiplier and dilation, summed in float64. */
export function inputGradientJs(info: tf.backend_util.Conv2DInfo, dy: Float32Array, f: Float32Array, dx: Float32Array): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const m = info.outChannels / c;
  for (let b = 0; b < n; b++)
    for (let iy = 0; iy < h; iy++)
      for (let ix = 0; ix < w; ix++)
        for (let ch = 0; ch < c; ch++) {
          let sum = 0;
          for (let a = 0; a < kh; a++) {
            const ty = iy + top - a * dh;
            if (ty < 0 || ty % sh !== 0 || ty / sh >= oh) continue;
            for (let bb = 0; bb < kw; bb++) {
              const tx = ix + left - bb * dw;
              if (tx < 0 || tx % sw !== 0 || tx / sw >= ow) continue;
              const o = ((b * oh + ty / sh) * ow + tx / sw) * c * m + ch * m;
              const fo = ((a * kw + bb) * c + ch) * m;
              for (let k = 0; k < m; k++) sum += dy[o + k] * f[fo + k];
            }
          }
          dx[((b * h + iy) * w + ix) * c + ch] = sum;
        }
}

/** Filter gradient in JavaScript, any channel multiplier and dilation, summed in float64. */
export function filterGradientJs(info: tf.backend_util.Conv2DInfo, x: Float32Array, dy: Float32Array, df: Float32Array): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const m = info.outChannels / c;
  const sums = new Float64Array(c * m);
  for (let a = 0; a < kh; a++)
    for (let bb = 0; bb < kw; bb++) {
      sums.fill(0);
      for (let b = 0; b < n; b++)
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * sh + a * dh - top;
          if (iy < 0 || iy >= h) continue;
          for (let ox = 0; ox < ow; ox++) {
            const ix = ox * sw + bb * dw - left;
            if (ix < 0 || ix >= w) continue;
            const xo = ((b * h + iy) * w + ix) * c;
            const o = ((b * oh + oy) * ow + ox) * c * m;
            for (let ch = 0; ch < c; ch++) for (let k = 0; k < m; k++) sums[ch * m + k] += x[xo + ch] * dy[o + ch * m + k];
          }
        }
      df.set(sums, (a * kw + bb) * c * m);
    }
}

/** Register the two gradient kernels for wasm (the cpu backend has its own). */
export function registerDepthwiseGradients(): void {
  const kernels: [string, tf.KernelFunc][] = [
    [tf.DepthwiseConv2dNativeBackpropInput, backpropInput as unknown as tf.KernelFunc],
    [tf.DepthwiseConv2dNativeBackpropFilter, backpropFilter as unknown as tf.KernelFunc],
  ];
  for (const [kernelName, kernelFunc] of kernels) {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  }
}
