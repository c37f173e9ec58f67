/**
 * Fused Adam update for one parameter: one pass instead of about ten element-wise ops (each
 * a separate kernel call with its own overhead). SIMD wasm on the wasm backend; this
 * JavaScript on the cpu backend and as fallback. Outputs are new tensors p', m', v'.
 */
import * as tf from '@tensorflow/tfjs-core';
import { f32, outputs, registerBoth } from './heap.js';
import { WEBGPU, registerTensorKernel } from './compose.js';
import { simdKernels } from '../simd/index.js';

export const ADAM_UPDATE = 'GapsegAdamUpdate';

function adamUpdate(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap }): tf.TensorInfo[] {
  const backend = args.backend as tf.KernelBackend;
  const { p, g, m, v } = args.inputs as Record<string, tf.TensorInfo>;
  const { beta1, beta2, stepSize, invSqrtBc2, eps, lrWd } = args.attrs as Record<string, number>;
  const { infos, views } = outputs(backend, [p.shape, p.shape, p.shape]);
  const n = p.shape.reduce((a, b) => a * b, 1);
  const simd = simdKernels(backend);
  if (simd) {
    const a = (t: tf.TensorInfo) => simd.address(t);
    simd.adamUpdate(a(p), a(g), a(m), a(v), a(infos[0]), a(infos[1]), a(infos[2]), n, beta1, beta2, stepSize, invSqrtBc2, eps, lrWd);
    return infos;
  }
  const [po, mo, vo] = views;
  const [pv, gv, mv, vv] = [p, g, m, v].map((t) => f32(backend, t));
  for (let i = 0; i < n; i++) {
    const mi = beta1 * mv[i] + (1 - beta1) * gv[i];
    const vi = beta2 * vv[i] + (1 - beta2) * gv[i] * gv[i];
    mo[i] = mi;
    vo[i] = vi;
    po[i] = pv[i] * (1 - lrWd) - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + eps);
  }
  return infos;
}

/** The update in ops (WebGPU). */
function adamUpdateOps(t: Record<string, tf.Tensor>, attrs: tf.NamedAttrMap): tf.Tensor[] {
  const { p, g, m, v } = t;
  const { beta1, beta2, stepSize, invSqrtBc2, eps, lrWd } = attrs as Record<string, number>;
  const m2 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
  const v2 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
  const step = tf.div(tf.mul(m2, stepSize), tf.add(tf.mul(tf.sqrt(v2), invSqrtBc2), eps));
  return [tf.sub(tf.mul(p, 1 - lrWd), step), m2, v2];
}

/** Register the fused Adam kernel for wasm and cpu, and its composition for WebGPU. */
export function registerAdamKernel(): void {
  registerBoth(ADAM_UPDATE, adamUpdate as unknown as tf.KernelFunc);
  registerTensorKernel(ADAM_UPDATE, WEBGPU, adamUpdateOps);
}
