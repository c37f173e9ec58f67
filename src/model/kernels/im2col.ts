/**
 * Transposed im2col for stride-1 convolutions: from x [N,H,W,C] and a kh x kw window with
 * padding (top, left), the matrix A [kh*kw*C, N*H*W] whose row (tap, c) holds, for every
 * output pixel, the input value that tap reads (0 outside the image). The filter gradient
 * of the convolution is then one matrix product A . dY, which XNNPACK runs at full speed
 * as a 1x1 convolution, instead of a convolution with a huge kernel and 4 input channels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { f32, outputs, registerBoth } from './heap.js';
import { simdKernels } from './simd/index.js';

export const IM2COL_T = 'GapsegIm2ColT';

/** Pixels per block: the block's input rows stay in L1 while every (tap, channel) row is written. */
const BLOCK = 64;

function im2colT(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as tf.KernelBackend;
  const x = args.inputs.x as tf.TensorInfo;
  const { kh, kw, top, left, outH, outW } = args.attrs as Record<string, number>;
  const [n, h, w, c] = x.shape;
  const pixels = n * outH * outW;
  const { infos, views } = outputs(backend, [[1, 1, kh * kw * c, pixels]]);
  const simd = simdKernels(backend);
  if (simd) {
    simd.im2colT(simd.address(x), simd.address(infos[0]), n, h, w, c, kh, kw, top, left, outH, outW);
    return infos[0];
  }
  const out = views[0];
  const xv = f32(backend, x);
  const srcIndex = new Int32Array(BLOCK);
  for (let p0 = 0; p0 < pixels; p0 += BLOCK) {
    const len = Math.min(BLOCK, pixels - p0);
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        // Source offset of every pixel of the block for this tap, -1 when it falls outside.
        for (let i = 0; i < len; i++) {
          const p = p0 + i;
          const ox = p % outW;
          const rest = (p - ox) / outW;
          const oy = rest % outH;
          const bn = (rest - oy) / outH;
          const iy = oy + a - top;
          const ix = ox + b - left;
          srcIndex[i] = iy < 0 || iy >= h || ix < 0 || ix >= w ? -1 : ((bn * h + iy) * w + ix) * c;
        }
        const rowBase = (a * kw + b) * c;
        for (let ch = 0; ch < c; ch++) {
          const dst = (rowBase + ch) * pixels + p0;
          for (let i = 0; i < len; i++) {
            const s = srcIndex[i];
            out[dst + i] = s < 0 ? 0 : xv[s + ch];
          }
        }
      }
    }
  }
  return infos[0];
}

/** Register the im2col kernel for wasm and cpu. */
export function registerIm2ColKernel(): void {
  registerBoth(IM2COL_T, im2colT as unknown as tf.KernelFunc);
}
