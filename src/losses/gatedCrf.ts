/**
 * The Gated CRF loss (Obukhov et al. 2019, the local form of Tang et al.'s DenseCRF loss) and
 * its gradient w.r.t. the logits, in one kernel that never materialises the pairwise weights.
 *
 * With S = softmax(logits) per pixel, for every pixel p and offset o != 0 of the (2r+1)^2
 * window:  W(p,o) = exp(-|o|^2 / 2 sxy^2 - |I(p) - I(p+o)|^2 / 2 srgb^2) * gate(p) * gate(p+o)
 *   L = weight / G * sum_p sum_o W(p,o) * (1 - S(p) . S(p+o)),   G = sum of the gate.
 * W is symmetric, so each unordered pair is visited once (half the window) and counted twice;
 * dL/dS(p) = -2 weight / G * sum_o W(p,o) S(p+o), then through the softmax.
 * Offsets are clipped at the image border; a gate of 0 (padding) removes every pair touching
 * the pixel, so it gets neither loss nor gradient. SIMD wasm on the wasm backend (kernels.c);
 * this JavaScript on the cpu backend and as the float64 reference of the tests. The kernel is
 * registered for wasm and cpu when this module loads.
 */
import * as tf from '@tensorflow/tfjs-core';
import { f32, outputs, registerBoth } from '../engine/kernels/heap.js';
import { simdKernels } from '../engine/simd/index.js';
import { softmaxPixels } from '../util/softmax.js';

export const GATED_CRF = 'GapsegGatedCrf';

/** Settings of the Gated CRF loss. */
export interface GatedCrfParams {
  /** Loss weight (relative to the cross-entropy). */
  weight: number;
  /** Window radius in pixels: offsets up to r in x and y. */
  radius: number;
  /** Width of the spatial Gaussian, pixels. */
  sigmaXY: number;
  /** Width of the colour Gaussian, on RGB in 0..1. */
  sigmaRGB: number;
}

type Values = Float32Array | Float64Array;

/**
 * The loss and its gradient on plain arrays (NHWC): logits [n,h,w,k], image [n,h,w,3] RGB in
 * 0..1, gate [n,h,w]. Writes dL/dlogits into grad and returns L. Float64 throughout.
 */
export function gatedCrfLoss(logits: Values, image: Values, gate: Values, shape: [number, number, number, number], p: GatedCrfParams, grad: Values): number {
  const [n, h, w, k] = shape;
  const hw = h * w;
  let gsum = 0;
  for (let i = 0; i < n * hw; i++) gsum += gate[i];
  grad.fill(0);
  if (!(gsum > 0) || p.weight === 0) return 0;
  const scale = p.weight / gsum;
  const a2xy = 1 / (2 * p.sigmaXY * p.sigmaXY);
  const a2rgb = 1 / (2 * p.sigmaRGB * p.sigmaRGB);
  const r = p.radius;
  const s = new Float64Array(hw * k);
  const acc = new Float64Array(hw * k);
  let pairSum = 0;
  for (let b = 0; b < n; b++) {
    const base = b * hw;
    softmaxPixels(logits, base * k, s, 0, hw, k);
    acc.fill(0);
    for (let dy = 0; dy <= r; dy++) {
      for (let dx = -r; dx <= r; dx++) {
        if (dy === 0 && dx <= 0) continue;
        const spatial = Math.exp(-(dx * dx + dy * dy) * a2xy);
        for (let y = 0; y + dy < h; y++) {
          for (let x = Math.max(0, -dx); x < Math.min(w, w - dx); x++) {
            const ip = y * w + x;
            const iq = ip + dy * w + dx;
            const g = gate[base + ip] * gate[base + iq];
            if (g === 0) continue;
            const pp = (base + ip) * 3;
            const pq = (base + iq) * 3;
            const d0 = image[pp] - image[pq];
            const d1 = image[pp + 1] - image[pq + 1];
            const d2 = image[pp + 2] - image[pq + 2];
            const wt = spatial * g * Math.exp(-(d0 * d0 + d1 * d1 + d2 * d2) * a2rgb);
            let dot = 0;
            for (let c = 0; c < k; c++) {
              dot += s[ip * k + c] * s[iq * k + c];
              acc[ip * k + c] += wt * s[iq * k + c];
              acc[iq * k + c] += wt * s[ip * k + c];
            }
            pairSum += wt * (1 - dot);
          }
        }
      }
    }
    for (let i = 0; i < hw; i++) {
      let sg = 0;
      for (let c = 0; c < k; c++) sg += s[i * k + c] * acc[i * k + c];
      const o = (base + i) * k;
      for (let c = 0; c < k; c++) grad[o + c] = -2 * scale * s[i * k + c] * (acc[i * k + c] - sg);
    }
  }
  return 2 * scale * pairSum;
}

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap };

/** Kernel: inputs logits [n,h,w,k], image [n,h,w,3] (0..1), gate [n,h,w]; outputs loss [] and grad. */
function gatedCrf(args: Args): tf.TensorInfo[] {
  const backend = args.backend as tf.KernelBackend;
  const { logits, image, gate } = args.inputs as Record<string, tf.TensorInfo>;
  const p = args.attrs as unknown as GatedCrfParams;
  const [n, h, w, k] = logits.shape;
  if (image.shape.join() !== [n, h, w, 3].join() || gate.shape.join() !== [n, h, w].join()) {
    throw new Error(`gated CRF: image ${image.shape} and gate ${gate.shape} do not match logits ${logits.shape}`);
  }
  const { infos, views } = outputs(backend, [[], logits.shape]);
  const simd = simdKernels(backend);
  if (simd) {
    const a = (t: tf.TensorInfo) => simd.address(t);
    let gateSum = 0;
    for (const g of f32(backend, gate)) gateSum += g;
    if (!(gateSum > 0) || p.weight === 0) {
      f32(backend, infos[1]).fill(0);
      f32(backend, infos[0])[0] = 0;
      return infos;
    }
    const scale = p.weight / gateSum;
    // Images are shared out between the kernel team's threads, one chunk each. Scratch: one
    // float64 sum per image (first, so aligned as malloc returns it), then per chunk the image
    // in hand in planar layout (colour, gate, probabilities, accumulators: (4 + 2k) floats a pixel).
    const parts = simd.team.size;
    const imageBytes = (4 + 2 * k) * h * w * 4;
    const loss = simd.withScratch(8 * n + parts * imageBytes, (sums) => {
      const args = [a(logits), a(image), a(gate), a(infos[1]), n, h, w, k, p.radius, 1 / (2 * p.sigmaXY ** 2), 1 / (2 * p.sigmaRGB ** 2), scale, parts, sums + 8 * n, sums];
      simd.team.split('gated_crf_part', args, parts);
      let pairSum = 0;
      for (const v of simd.f64(sums, n)) pairSum += v;
      return 2 * scale * pairSum;
    });
    f32(backend, infos[0])[0] = loss;
    return infos;
  }
  views[0][0] = gatedCrfLoss(f32(backend, logits), f32(backend, image), f32(backend, gate), [n, h, w, k], p, views[1]);
  return infos;
}

registerBoth(GATED_CRF, gatedCrf as unknown as tf.KernelFunc);
