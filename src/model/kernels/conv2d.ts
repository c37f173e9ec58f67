/**
 * Conv2D on wasm through gapseg's SIMD kernel `conv_fwd` on all threads (see kernels.c) for
 * stride 1, no dilation, NHWC and output channels in multiples of 4: every 3x3 conv of the
 * U-Net, forward and (through conv2dBackpropInput.ts) input gradient. XNNPACK's Conv2D, the
 * stock kernel, keeps the other cases (strides, the 1x1 head with 2 outputs).
 */
import * as tf from '@tensorflow/tfjs-core';
import { outputs } from './heap.js';
import { simdKernels } from './simd/index.js';

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
    const co = filter.shape[3];
    // GAPSEG_CONV_ROUTE=xnnpack forces the stock kernel (tests of both, benchmarks).
    if (!simd || dataFormat === 'NCHW' || co % 4 !== 0 || process.env.GAPSEG_CONV_ROUTE === 'xnnpack') return original(args);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      strides,
      dilations ?? 1,
      pad,
      dimRoundingMode,
    );
    if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return original(args);
    const [n, h, w, ci] = x.shape;
    const { infos } = outputs(backend, [info.outShape]);
    const [oh, ow] = [info.outHeight, info.outWidth];
    const [kh, kw] = [info.filterHeight, info.filterWidth];
    simd.withScratch(kh * kw * ci * co * 4, (packed) => {
      simd.convPackFilter(simd.address(filter), packed, kh * kw * ci, co);
      const argv = [simd.address(x), packed, simd.address(infos[0]), n, h, w, ci, co, kh, kw, info.padInfo.top, info.padInfo.left, oh, ow];
      simd.team.split('conv_fwd', argv, n * oh);
    });
    return infos[0];
  };
}
