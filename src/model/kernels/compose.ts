/**
 * Helpers to build a kernel out of other, already registered kernels of the same backend.
 * Kernel functions work on TensorInfo (data ids), not on Tensors: intermediates are not
 * tracked by the engine, so each one is released explicitly with `release`.
 */
import * as tf from '@tensorflow/tfjs-core';

export type Attrs = Record<string, unknown>;

/** Run the registered kernel `name` of the backend's own name, returning its TensorInfo. */
export function callKernel(
  name: string,
  backendName: string,
  backend: tf.KernelBackend,
  inputs: Record<string, tf.TensorInfo>,
  attrs: Attrs = {},
): tf.TensorInfo {
  const config = tf.getKernel(name, backendName);
  if (!config) throw new Error(`kernel ${name} is not registered for backend ${backendName}`);
  const out = config.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`kernel ${name} returned several outputs`);
  return out as tf.TensorInfo;
}

/** Release intermediates made by callKernel. */
export function release(backend: tf.KernelBackend, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/**
 * Replace a registered kernel by a wrapper that may delegate to the original.
 * Returns the original kernel function so the wrapper can call it.
 */
export function overrideKernel(
  name: string,
  backendName: string,
  make: (original: tf.KernelFunc) => tf.KernelFunc,
): void {
  const original = tf.getKernel(name, backendName);
  if (!original) throw new Error(`kernel ${name} is not registered for backend ${backendName}`);
  if ((original.kernelFunc as { gapseg?: boolean }).gapseg) return; // already overridden
  const wrapped = make(original.kernelFunc);
  (wrapped as { gapseg?: boolean }).gapseg = true;
  tf.unregisterKernel(name, backendName);
  tf.registerKernel({ ...original, kernelFunc: wrapped });
}
