/**
 * The WebGPU device under Node: Dawn from the `webgpu` package (an optional dependency whose
 * binary ships in the package) exposed as `navigator.gpu`, then TensorFlow.js's WebGPU backend,
 * which registers itself on import only where `navigator.gpu` exists. gapseg's own kernels run
 * there as compositions of the backend's stock kernels (kernels/index.ts).
 *
 * A software adapter (Mesa's lavapipe, Dawn's SwiftShader) reports itself as a fallback
 * adapter: it computes correctly on the CPU, far slower than gapseg's wasm engine, so `auto`
 * never picks it; `webgpu` takes it when asked, for tests.
 */
import { GapsegError, describeError } from '../util/errors.js';

/** What the adapter says of itself, for the engine line. */
export interface AdapterInfo {
  description: string;
  /** A software (CPU) implementation of WebGPU. */
  software: boolean;
}

type Gpu = { requestAdapter(o?: object): Promise<GpuAdapter | null> };
type GpuAdapter = {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
};

let gpu: Gpu | null = null;

/** Dawn as navigator.gpu (once), or why it cannot be. */
async function dawn(): Promise<Gpu | string> {
  if (gpu) return gpu;
  let mod: { create(flags: string[]): Gpu; globals: Record<string, unknown> };
  try {
    mod = (await import('webgpu' as string)) as typeof mod;
  } catch (e) {
    return `the optional package webgpu is not installed (${describeError(e)}); install it with: npm install webgpu`;
  }
  Object.assign(globalThis, mod.globals);
  gpu = mod.create([]);
  const nav = ((globalThis as { navigator?: object }).navigator ??= {}) as { gpu?: Gpu };
  Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  return gpu;
}

function describeAdapter(adapter: GpuAdapter): AdapterInfo {
  const i = adapter.info ?? {};
  const parts = [i.description, i.vendor && `vendor ${i.vendor}`, i.architecture, i.device].filter((p) => p);
  const description = [...new Set(parts)].join(', ') || 'an unnamed adapter';
  return { description, software: Boolean(i.isFallbackAdapter ?? adapter.isFallbackAdapter) };
}

let found: Promise<AdapterInfo | string> | null = null;

/** The adapter TensorFlow.js will take (its high-performance one), or why there is none; asked once a process. */
export function findAdapter(): Promise<AdapterInfo | string> {
  return (found ??= askAdapter());
}

async function askAdapter(): Promise<AdapterInfo | string> {
  const g = await dawn();
  if (typeof g === 'string') return g;
  let adapter: GpuAdapter | null;
  try {
    adapter = await g.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return `WebGPU found no adapter (${describeError(e)})`;
  }
  if (!adapter) return 'WebGPU found no adapter (no GPU driver with Vulkan, Metal or Direct3D 12 support)';
  return describeAdapter(adapter);
}

/** Load TensorFlow.js's WebGPU backend (after findAdapter has set navigator.gpu). */
export async function loadWebgpuBackend(): Promise<void> {
  if (!gpu) throw new Error('loadWebgpuBackend before findAdapter');
  try {
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new GapsegError(`cannot load TensorFlow.js's WebGPU backend: ${describeError(e)}`);
  }
}
