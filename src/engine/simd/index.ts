/**
 * Loading the SIMD kernels (kernels.c) next to the TensorFlow.js wasm module, sharing its
 * memory: the kernels take tensor addresses and work in place. One instance per backend.
 * Returns null when the backend is not wasm, when the routes ask for the JavaScript kernels,
 * or when the module cannot be instantiated; callers then use the JavaScript kernels, and
 * the engine reports the reason of a failed load (simdKernelsProblem) instead of hiding it.
 */
import v8 from 'node:v8';
import * as tf from '@tensorflow/tfjs-core';
import { KERNELS_WASM } from '../../generated/kernelsWasm.js';
import { createTeam, type KernelTeam } from './team.js';
import { kernelRoutes } from '../routes.js';

export interface SimdKernels {
  /** Batch norm + ReLU forward, phase 2 of 3 (phases 1 and 3 run split: bn_moments_part, bn_apply_part). */
  bnForwardFinish(
    x: number,
    gamma: number,
    beta: number,
    mean: number,
    rstd: number,
    m: number,
    c: number,
    eps: number,
    parts: number,
    scratch: number,
  ): void;
  /** Batch norm + ReLU backward, phase 2 of 3 (phases 1 and 3: bn_grad_sums_part, bn_grad_apply_part). */
  bnBackwardFinish(
    mean: number,
    rstd: number,
    gamma: number,
    dgamma: number,
    dbeta: number,
    m: number,
    c: number,
    parts: number,
    scratch: number,
  ): void;
  adamUpdate(
    p: number,
    g: number,
    m: number,
    v: number,
    pOut: number,
    mOut: number,
    vOut: number,
    n: number,
    b1: number,
    b2: number,
    stepSize: number,
    invSqrtBc2: number,
    eps: number,
    lrWd: number,
  ): void;
  /** Filter gradient of a stride-1 conv for work units [u0, u1); see conv_dw in kernels.c. */
  convDw(
    x: number,
    dy: number,
    dw: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    co: number,
    kh: number,
    kw: number,
    top: number,
    left: number,
    oh: number,
    ow: number,
    u0: number,
    u1: number,
  ): void;
  /** Filter [kh, kw, ci, co] repacked for conv_fwd (rotate = 1: for the input gradient); see kernels.c. */
  convPackFilter(f: number, out: number, kh: number, kw: number, ci: number, co: number, rotate: number): void;
  /** Filter [3, 3, ci, co] transformed for wino_fwd (rotate = 1: for the input gradient); see kernels.c. */
  winoPackFilter(f: number, out: number, ci: number, co: number, rotate: number): void;
  /** Floats of scratch one thread of wino_fwd needs for ci input channels. */
  winoScratchFloats(ci: number): number;
  /** Whether multiply-adds are fused (the relaxed-SIMD build). */
  fma: boolean;
  /** The threads that kernels with a range split (convDw) run on. */
  team: KernelTeam;
  /** Address of a tensor's data in the shared heap. */
  address(info: tf.TensorInfo): number;
  /** A float64 view of `count` values at an address of the heap. */
  f64(address: number, count: number): Float64Array;
  /** Run f with `bytes` of scratch memory from the heap's allocator. */
  withScratch<T>(bytes: number, f: (ptr: number) => T): T;
}

interface WasmBackendLike {
  wasm: {
    wasmMemory?: WebAssembly.Memory;
    asm?: { memory?: WebAssembly.Memory };
    _malloc(n: number): number;
    _free(p: number): void;
    tfjs?: { getThreadsCount(): number };
  };
  dataIdMap: { get(id: tf.DataId): { memoryOffset: number } };
}

const instances = new WeakMap<object, SimdKernels | null>();
const problems = new WeakMap<object, string>();
let fmaWanted = true;

/** Whether the kernels use their fused multiply-add build where V8 accepts it (an engine option, set before they load). */
export function preferFma(on: boolean): void {
  fmaWanted = on;
}

/**
 * The kernels module for a shared or plain memory: the build with fused multiply-add when
 * wanted and this V8 accepts relaxed SIMD, else the base build.
 * Node 20's V8 has relaxed SIMD complete but behind a flag (on by default from V8 11.4):
 * we turn the flag on, which changes nothing else.
 */
function compileKernels(shared: boolean): { module: WebAssembly.Module; fma: boolean } {
  if (fmaWanted) {
    const bytes = Buffer.from(shared ? KERNELS_WASM.sharedFma : KERNELS_WASM.plainFma, 'base64');
    if (!WebAssembly.validate(bytes)) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    if (WebAssembly.validate(bytes)) return { module: new WebAssembly.Module(bytes), fma: true };
  }
  return { module: new WebAssembly.Module(Buffer.from(shared ? KERNELS_WASM.shared : KERNELS_WASM.plain, 'base64')), fma: false };
}

/** The SIMD kernels bound to this backend's heap, or null. */
export function simdKernels(backend: tf.KernelBackend): SimdKernels | null {
  if (!kernelRoutes().simd) return null;
  const b = backend as unknown as WasmBackendLike;
  if (!b.wasm || !b.dataIdMap) return null;
  if (instances.has(backend)) return instances.get(backend) ?? null;
  let kernels: SimdKernels | null = null;
  // The threaded tfjs binary exposes its (shared) memory as wasmMemory; the single-threaded
  // one, used with one thread, only among its module's exports.
  const memory = b.wasm.wasmMemory ?? b.wasm.asm?.memory;
  if (memory) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    try {
      const { module, fma } = compileKernels(shared);
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      const e = instance.exports as Record<string, (...a: number[]) => number>;
      kernels = {
        bnForwardFinish: e.bn_forward_finish,
        bnBackwardFinish: e.bn_backward_finish,
        adamUpdate: e.adam_update,
        convDw: e.conv_dw,
        convPackFilter: e.conv_pack_filter,
        winoPackFilter: e.wino_pack_filter,
        winoScratchFloats: e.wino_scratch_floats,
        // As many threads as the tfjs pool; helpers only where the memory can be shared.
        team: createTeam(module, memory, e, shared ? (b.wasm.tfjs?.getThreadsCount() ?? 1) : 1),
        fma,
        address: (info) => b.dataIdMap.get(info.dataId).memoryOffset,
        f64: (address, count) => new Float64Array(memory.buffer, address, count),
        withScratch: (bytes, f) => {
          const ptr = b.wasm._malloc(bytes) >>> 0;
          try {
            return f(ptr);
          } finally {
            b.wasm._free(ptr);
          }
        },
      };
    } catch (e) {
      problems.set(backend, `the SIMD kernel module did not load (${(e as Error).message})`);
      kernels = null;
    }
  } else {
    problems.set(backend, 'the TensorFlow.js wasm module exposes no memory to share');
  }
  instances.set(backend, kernels);
  return kernels;
}

/** Why the SIMD kernels did not load on this (wasm) backend, or null when they did or were not tried. */
export function simdKernelsProblem(backend: tf.KernelBackend): string | null {
  return problems.get(backend) ?? null;
}
