/**
 * Helpers to build a kernel out of other, already registered kernels of the same backend.
 * Kernel functions work on TensorInfo (data ids), not on Tensors: intermediates are not
 * tracked by the engine, so each one is released explicitly with `release`.
 */
import * as tf from '@tensorflow/tfjs-core';

export type Attrs = Record<string, unknown>;

/** TensorFlow.js's WebGPU backend, where gapseg's kernels are compositions of stock kernels. */
export const WEBGPU = 'webgpu';

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
 * The matrix product [m, k] x [k, n] -> [m, n] on wasm as a 1x1 Conv2D, which is XNNPACK's
 * GEMM on all threads (the stock BatchMatMul runs single-threaded). `a` and `b` may have any
 * shape holding m*k and k*n values in row-major order.
 */
export function matMulAsConv(
  backend: tf.KernelBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  m: number,
  k: number,
  n: number,
): tf.TensorInfo {
  const x4 = callKernel(tf.Reshape, 'wasm', backend, { x: a }, { shape: [1, 1, m, k] });
  const f4 = callKernel(tf.Reshape, 'wasm', backend, { x: b }, { shape: [1, 1, k, n] });
  const y = callKernel(
    tf.Conv2D,
    'wasm',
    backend,
    { x: x4, filter: f4 },
    {
      strides: [1, 1],
      pad: 'valid',
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: undefined,
    },
  );
  const out = callKernel(tf.Reshape, 'wasm', backend, { x: y }, { shape: [m, n] });
  release(backend, x4, f4, y);
  return out;
}

/**
 * Replace a registered kernel by a wrapper that may delegate to the original.
 * Returns the original kernel function so the wrapper can call it.
 */
export function overrideKernel(name: string, backendName: string, make: (original: tf.KernelFunc) => tf.KernelFunc): void {
  const original = tf.getKernel(name, backendName);
  if (!original) throw new Error(`kernel ${name} is not registered for backend ${backendName}`);
  if ((original.kernelFunc as { gapseg?: boolean }).gapseg) return; // already overridden
  const wrapped = make(original.kernelFunc);
  (wrapped as { gapseg?: boolean }).gapseg = true;
  tf.unregisterKernel(name, backendName);
  tf.registerKernel({ ...original, kernelFunc: wrapped });
}

/** A kernel written with TensorFlow.js ops: its inputs as tensors, its outputs returned as tensors. */
export type TensorKernel = (inputs: Record<string, tf.Tensor>, attrs: tf.NamedAttrMap) => tf.Tensor | tf.Tensor[];

/**
 * Register a kernel written with ops, for backends where gapseg has no kernel over tensor
 * memory (WebGPU: a tensor's data lives on the GPU). The ops run inside the kernel call, so
 * autodiff records only the kernel itself; the engine accepts tensors as a kernel's outputs.
 * Each input is wrapped in a tensor holding its own reference to the data (the backend's
 * count is raised first), so that freeing the wrapper leaves the caller's tensor alive.
 */
export function registerTensorKernel(kernelName: string, backendName: string, f: TensorKernel): void {
  if (tf.getKernel(kernelName, backendName)) return;
  const kernelFunc = ({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend }) =>
    tf.tidy(() => {
      const tensors: Record<string, tf.Tensor> = {};
      for (const [k, info] of Object.entries(inputs)) {
        (backend as unknown as { incRef(id: tf.DataId): void }).incRef((info as tf.TensorInfo).dataId);
        tensors[k] = tf.engine().makeTensorFromTensorInfo(info as tf.TensorInfo);
      }
      return f(tensors, attrs);
    });
  tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}
