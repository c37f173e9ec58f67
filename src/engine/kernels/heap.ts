/**
 * Direct access to tensor memory from JavaScript kernels. On the wasm backend a tensor's
 * data lives in the module's heap, so a JS kernel can read inputs and write outputs in
 * place with no copy; on the cpu backend (the test reference) data are plain typed arrays.
 */
import * as tf from '@tensorflow/tfjs-core';

interface WasmLike {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}
interface CpuLike {
  data: { get(id: tf.DataId): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

function isWasm(backend: tf.KernelBackend): boolean {
  return typeof (backend as unknown as WasmLike).typedArrayFromHeap === 'function';
}

/** The float32 values of a tensor, without copying. */
export function f32(backend: tf.KernelBackend, info: tf.TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`expected float32, got ${info.dtype}`);
  if (isWasm(backend)) return (backend as unknown as WasmLike).typedArrayFromHeap(info);
  return (backend as unknown as CpuLike).data.get(info.dataId).values;
}

/**
 * Allocate float32 outputs of the given shapes. Views are taken after every allocation,
 * since an allocation may grow (and re-buffer) the wasm heap.
 */
export function outputs(backend: tf.KernelBackend, shapes: number[][]): { infos: tf.TensorInfo[]; views: Float32Array[] } {
  if (isWasm(backend)) {
    const w = backend as unknown as WasmLike;
    const infos = shapes.map((s) => w.makeOutput(s, 'float32'));
    return { infos, views: infos.map((i) => w.typedArrayFromHeap(i)) };
  }
  const c = backend as unknown as CpuLike;
  const views = shapes.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
  return { infos: shapes.map((s, i) => c.makeTensorInfo(s, 'float32', views[i])), views };
}

/** Register one kernel function for both the wasm and the cpu backends. */
export function registerBoth(kernelName: string, kernelFunc: tf.KernelFunc): void {
  for (const backendName of ['wasm', 'cpu']) {
    if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({ kernelName, backendName, kernelFunc });
  }
}
