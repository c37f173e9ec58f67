/**
 * Conv2D and FusedConv2D on wasm through gapseg's SIMD kernel `conv_fwd` on all threads (see
 * kernels.c) for stride 1, no dilation, NHWC and output channels in multiples of 4: every 3x3
 * conv of the U-Net, in training, in its input gradient (conv2dBackpropInput.ts) and in
 * inference (batch norm folded: conv + bias + ReLU in one pass). XNNPACK's Conv2D, the stock
 * kernel, keeps the other cases (strides, the 1x1 head with 2 outputs). Besides its speed in
 * a single call, it avoids a cost XNNPACK pays in training: XNNPACK caches an operator with
 * its packed filter per filter tensor, and every step brings new filters.
 */
import * as tf from '@tensorflow/tfjs-core';
import { outputs } from './heap.js';
import { kernelRoutes } from '../routes.js';
import { simdKernels, type SimdKernels } from '../simd/index.js';

/** Whether the convolution route is XNNPACK's rather than the direct SIMD kernel (tests, benchmarks). */
export function stockConvForced(): boolean {
  return kernelRoutes().conv === 'xnnpack';
}

/** Optional epilogue of convDirect: a bias per output channel, then a ReLU or ReLU6. */
export interface ConvEpilogue {
  bias?: tf.TensorInfo;
  activation?: 'linear' | 'relu' | 'relu6';
}

/** conv_fwd's activation codes. */
const ACTIVATION_CODE = { linear: 0, relu: 1, relu6: 2 } as const;

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
  epilogue: ConvEpilogue = {},
): tf.TensorInfo {
  const [n, h, w, cin] = x.shape;
  const [kh, kw, ci, co] = filter.shape;
  const { infos } = outputs(backend, [outShape]);
  const act = ACTIVATION_CODE[epilogue.activation ?? 'linear'];
  const bias = epilogue.bias ? simd.address(epilogue.bias) : 0;
  if (kh === 3 && kw === 3 && cin % 4 === 0 && kernelRoutes().conv3x3 === 'winograd') {
    // 16 products per 2x2 outputs instead of 36; each thread transforms its tiles into its own scratch.
    const scratchBytes = 4 * simd.winoScratchFloats(cin) * simd.team.size;
    simd.withScratch(16 * ci * co * 4 + scratchBytes, (packed) => {
      simd.winoPackFilter(simd.address(filter), packed, ci, co, rotate ? 1 : 0);
      const scratch = packed + 16 * ci * co * 4;
      const argv = [
        simd.address(x),
        packed,
        bias,
        simd.address(infos[0]),
        n,
        h,
        w,
        cin,
        outShape[3],
        top,
        left,
        outShape[1],
        outShape[2],
        act,
        scratch,
      ];
      simd.team.split('wino_fwd', argv, n * Math.ceil(outShape[1] / 2));
    });
    return infos[0];
  }
  simd.withScratch(kh * kw * ci * co * 4, (packed) => {
    simd.convPackFilter(simd.address(filter), packed, kh, kw, ci, co, rotate ? 1 : 0);
    const argv = [
      simd.address(x),
      packed,
      bias,
      simd.address(infos[0]),
      n,
      h,
      w,
      cin,
      outShape[3],
      kh,
      kw,
      top,
      left,
      outShape[1],
      outShape[2],
      act,
    ];
    simd.team.split('conv_fwd', argv, n * outShape[1]);
  });
  return infos[0];
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The convolution's geometry when the direct kernel applies to it, else null. */
function directInfo(
  simd: SimdKernels | null,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  attrs: ConvAttrs,
): tf.backend_util.Conv2DInfo | null {
  if (!simd || attrs.dataFormat === 'NCHW' || filter.shape[3] % 4 !== 0 || stockConvForced()) return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const unit = info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1 && info.dilationWidth === 1;
  return unit ? info : null;
}

/** Wrap the stock Conv2D with the direct SIMD path where it applies. */
export function conv2dDirect(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as tf.KernelBackend;
    const { x, filter } = args.inputs as Record<string, tf.TensorInfo>;
    const simd = simdKernels(backend);
    const info = directInfo(simd, x, filter, args.attrs as unknown as ConvAttrs);
    if (!simd || !info) return original(args);
    return convDirect(backend, simd, x, filter, false, info.padInfo.top, info.padInfo.left, info.outShape);
  };
}

/**
 * Wrap the stock FusedConv2D (inference with batch norm folded in: conv + bias + ReLU; the
 * MobileNetV2 encoder's conv + bias + ReLU6) with the direct SIMD path where it applies: no
 * activation, ReLU or ReLU6, a bias of one value per output channel or none.
 */
export function fusedConv2dDirect(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as tf.KernelBackend;
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as unknown as ConvAttrs & { activation: string };
    const simd = simdKernels(backend);
    const info = directInfo(simd, x!, filter!, attrs);
    const co = filter!.shape[3];
    const biasOk =
      !bias || (bias.dtype === 'float32' && bias.shape.reduce((a, b) => a * b, 1) === co && bias.shape[bias.shape.length - 1] === co);
    const activationOk = attrs.activation === 'linear' || attrs.activation === 'relu' || attrs.activation === 'relu6';
    if (!simd || !info || !biasOk || !activationOk || preluActivationWeights) return original(args);
    return convDirect(backend, simd, x!, filter!, false, info.padInfo.top, info.padInfo.left, info.outShape, {
      bias,
      activation: attrs.activation as ConvEpilogue['activation'],
    });
  };
}
