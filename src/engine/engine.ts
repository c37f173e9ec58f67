/**
 * Engine setup: TensorFlow.js on the WebAssembly backend, multi-threaded under Node.
 *
 * tfjs-backend-wasm refuses threads under Node (tfjs issue #3830) because its pthread
 * workers are created from Blob URLs, which `worker_threads` cannot load. We register our
 * own factory for the 'wasm' backend that loads the same threaded SIMD binary with real
 * file paths for the worker script and the main script. XNNPACK sizes its pool at half the
 * logical cores reported by `os.cpus()` (meant for hyper-threads), so during instantiation
 * we report twice the wanted thread count.
 *
 * gapseg's kernels (kernels/index.ts) then register under 'wasm': the filter gradient the
 * backend lacks, and its own versions of Conv2D, FusedConv2D, Conv2DBackpropInput and
 * BatchMatMul, batch norm, Adam and the rest. Where the SIMD kernels cannot load, the engine
 * says so (EngineInfo.warnings) rather than running the slower JavaScript kernels silently.
 *
 * The device: 'cpu' is that engine; 'webgpu' is TensorFlow.js's WebGPU backend (webgpu.ts);
 * 'auto' takes a hardware WebGPU adapter where there is one, else the CPU engine, and says why.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { registerGapsegKernels } from './kernels/index.js';
import { preferFma, simdKernels, simdKernelsProblem } from './simd/index.js';
import { findAdapter, loadWebgpuBackend } from './webgpu.js';
import type { Device } from './device.js';
import { GapsegError, fsProblem } from '../util/errors.js';
// The Node bundle of tfjs-core registers no gradient functions; tfjs-layers' bundle carries
// and registers all of them (into tfjs-core's global registry) when it is loaded.
import '@tensorflow/tfjs-layers';

const require = createRequire(import.meta.url);

export interface EngineOptions {
  /** Worker threads for XNNPACK and gapseg's kernel team; default: the machine's logical cores (at most 8). */
  threads?: number;
  /** 'cpu' (default): the wasm engine; 'webgpu'; 'auto': a hardware WebGPU adapter, else the wasm engine. */
  device?: Device;
  /** 'cpu' picks TensorFlow.js's pure JS backend instead of wasm (reference computations in tests). */
  backend?: 'cpu';
  /** gapseg's kernels in their fused multiply-add build where V8 accepts it (default true). */
  fma?: boolean;
}

export interface EngineInfo {
  backend: 'wasm' | 'cpu' | 'webgpu';
  /** The WebGPU adapter's description (backend webgpu). */
  adapter?: string;
  threads: number;
  simd: boolean;
  /** Whether gapseg's kernels run as SIMD wasm, as their JavaScript versions, or as compositions of WebGPU's stock kernels. */
  kernels: 'simd' | 'javascript' | 'webgpu';
  /** Whether gapseg's SIMD kernels run their fused multiply-add build (relaxed SIMD). */
  fma: boolean;
  /** Why the engine runs slower than it could (one line each), to be shown to the user. */
  warnings: string[];
}

let current: EngineInfo | null = null;

function wasmPackageDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
}

/** Write the pthread worker script to a file once per package version, atomically. */
function workerScriptFile(dir: string): string {
  const { wasmWorkerContents } = require(path.join(dir, 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  // The package escapes its real newlines this way before making its Blob; do the same.
  const contents = wasmWorkerContents.replace(/\n/g, '\\n');
  const version = wasm.version_wasm;
  const cacheDir = path.join(os.tmpdir(), `gapseg-${process.getuid?.() ?? 'u'}`);
  const file = path.join(cacheDir, `tfjs-wasm-${version}-worker.cjs`);
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== contents) {
      const tmp = `${file}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, contents);
      fs.renameSync(tmp, file);
    }
  } catch (e) {
    throw new GapsegError(
      `${cacheDir}: cannot write the compute engine's worker script there (${fsProblem(e)}); set TMPDIR to a folder you may write`,
    );
  }
  return file;
}

type EmscriptenModule = {
  cwrap: (name: string, ret: string | null, args: string[]) => (...a: number[]) => number;
  [k: string]: unknown;
};

function registerThreadedWasm(threads: number): void {
  const dir = wasmPackageDir();
  const factoryPath = path.join(dir, 'wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const workerFile = workerScriptFile(dir);
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      const factory = require(factoryPath) as (cfg: object) => Promise<EmscriptenModule>;
      const realCpus = os.cpus;
      const fakeCpus = (): os.CpuInfo[] => new Array(2 * threads).fill(realCpus()[0]);
      (os as { cpus: () => os.CpuInfo[] }).cpus = fakeCpus;
      // The emscripten module adds process-wide 'uncaughtException'/'unhandledRejection'
      // handlers that rethrow, and Node then prints the whole minified module source as
      // context. Keep the process's own handlers only.
      const before = {
        uncaughtException: process.listeners('uncaughtException'),
        unhandledRejection: process.listeners('unhandledRejection'),
      };
      let module: EmscriptenModule;
      try {
        module = await factory({
          locateFile: (p: string) => (p.endsWith('.worker.js') ? workerFile : path.join(dir, 'dist', p)),
          mainScriptUrlOrBlob: factoryPath,
        });
      } finally {
        (os as { cpus: () => os.CpuInfo[] }).cpus = realCpus;
        for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
          const emitter = process as NodeJS.EventEmitter;
          for (const l of emitter.listeners(event)) {
            if (!(before[event] as unknown[]).includes(l)) emitter.removeListener(event, l as (...a: unknown[]) => void);
          }
        }
      }
      module.tfjs = {
        init: module.cwrap('init', null, []),
        initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
        getThreadsCount: module.cwrap('get_threads_count', 'number', []),
        registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
        disposeData: module.cwrap('dispose_data', null, ['number']),
        dispose: module.cwrap('dispose', null, []),
      };
      wasm.setThreadsCount(threads);
      // BackendWasm's constructor type is the package's internal module type.
      const backend = new wasm.BackendWasm(module as never);
      // The thread pool's workers were started by the constructor and live as long as the
      // process; they must not keep it from exiting once the work is done.
      const pthread = module.PThread as { runningWorkers: { unref(): void }[]; unusedWorkers: { unref(): void }[] };
      for (const w of [...pthread.runningWorkers, ...pthread.unusedWorkers]) w.unref();
      return backend;
    },
    2,
  );
}

/** Default thread count: GAPSEG_THREADS, else the machine's logical cores, capped at XNNPACK's pool of 8 workers. */
export function defaultThreads(): number {
  const env = Number(process.env.GAPSEG_THREADS);
  if (Number.isInteger(env) && env > 0) return Math.min(env, 8);
  return Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 8));
}

/** The engine options a user sets through the environment: GAPSEG_THREADS and GAPSEG_FMA=0 (read at start-up only). */
export function engineOptionsFromEnv(): EngineOptions {
  return { threads: defaultThreads(), fma: process.env.GAPSEG_FMA !== '0' };
}

/** A device decided: 'auto' resolved, with the adapter, and a note where the GPU was passed by or is software. */
export interface ResolvedDevice {
  device: 'cpu' | 'webgpu';
  adapter?: string;
  note?: string;
}

/** What a device stands for here: 'auto' takes a hardware WebGPU adapter, else the CPU; 'webgpu' without an adapter is an error. */
export async function resolveDevice(device: Device): Promise<ResolvedDevice> {
  if (device === 'cpu') return { device: 'cpu' };
  const adapter = await findAdapter();
  if (device === 'webgpu') {
    if (typeof adapter === 'string') throw new GapsegError(`--device webgpu: ${adapter}; compute on the CPU with --device cpu`);
    return { device: 'webgpu', adapter: adapter.description, ...(adapter.software ? { note: SOFTWARE_ADAPTER } : {}) };
  }
  if (typeof adapter === 'string') return { device: 'cpu', note: `device auto: ${adapter}; computing on the CPU` };
  if (adapter.software)
    return { device: 'cpu', note: `device auto: the only WebGPU adapter is software (${adapter.description}); computing on the CPU` };
  return { device: 'webgpu', adapter: adapter.description };
}

const SOFTWARE_ADAPTER = 'the WebGPU adapter is a software one (it emulates a GPU on the CPU, far slower than --device cpu)';

/**
 * Initialise the tensor engine once per process. Later calls return the same engine;
 * asking for a different device after initialisation is an error.
 */
export async function initEngine(opts: EngineOptions = {}): Promise<EngineInfo> {
  if (current) {
    const device = opts.device ?? 'cpu';
    // 'auto' takes whatever this process already has.
    const wanted = opts.backend ?? (device === 'auto' ? current.backend : device === 'webgpu' ? 'webgpu' : 'wasm');
    if (wanted !== current.backend)
      throw new GapsegError(
        `--device ${opts.backend ?? device}: this process computes with TensorFlow.js ${current.backend} already (one device a process)`,
        2,
      );
    return current;
  }
  tf.env().set('PROD', true);
  const chosen: ResolvedDevice = opts.backend === 'cpu' ? { device: 'cpu' } : await resolveDevice(opts.device ?? 'cpu');
  if (chosen.device === 'webgpu') {
    await loadWebgpuBackend();
    registerGapsegKernels();
    if (!(await tf.setBackend('webgpu'))) throw new GapsegError(`--device webgpu: TensorFlow.js could not start on ${chosen.adapter}`);
    current = {
      backend: 'webgpu',
      adapter: chosen.adapter,
      threads: 1,
      simd: false,
      kernels: 'webgpu',
      fma: false,
      warnings: chosen.note ? [chosen.note] : [],
    };
  } else if (opts.backend === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    current = { backend: 'cpu', threads: 1, simd: false, kernels: 'javascript', fma: false, warnings: [] };
  } else {
    const threads = opts.threads ?? defaultThreads();
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
    if (threads > 1 && simd) registerThreadedWasm(threads);
    preferFma(opts.fma ?? true);
    registerGapsegKernels();
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error('could not initialise the TensorFlow.js wasm backend');
    const kernels = simdKernels(tf.backend());
    const warnings: string[] = [];
    if (!simd) warnings.push('this Node.js has no WebAssembly SIMD: TensorFlow.js runs its plain, single-threaded wasm build');
    const problem = simdKernelsProblem(tf.backend());
    if (!kernels)
      warnings.push(`gapseg's SIMD kernels are off, its JavaScript kernels run instead (several times slower): ${problem ?? 'not loaded'}`);
    current = {
      backend: 'wasm',
      threads: wasm.getThreadsCount(),
      simd,
      kernels: kernels ? 'simd' : 'javascript',
      fma: kernels?.fma ?? false,
      warnings: chosen.note ? [chosen.note, ...warnings] : warnings,
    };
  }
  return current;
}

let shownWarnings = 0;

/** The engine's warnings not handed out before: each is shown once a process, by whoever starts work first. */
export function newEngineWarnings(): string[] {
  const all = current?.warnings ?? [];
  const fresh = all.slice(shownWarnings);
  shownWarnings = all.length;
  return fresh;
}

/** The engine initialised by initEngine, or null. */
export function engineInfo(): EngineInfo | null {
  return current;
}

/** One line naming the compute path, as train, predict and eval print it. */
export function describeEngine(info: EngineInfo): string {
  if (info.backend === 'cpu') return 'engine: TensorFlow.js cpu backend (JavaScript)';
  if (info.backend === 'webgpu') return `engine: TensorFlow.js WebGPU on ${info.adapter}`;
  const kernels =
    info.kernels === 'simd'
      ? `gapseg's SIMD kernels${info.fma ? ' with fused multiply-add' : ' (no fused multiply-add)'}`
      : "gapseg's JavaScript kernels";
  return `engine: TensorFlow.js wasm${info.simd ? ' SIMD' : ''}, ${info.threads} thread${info.threads === 1 ? '' : 's'}, ${kernels}`;
}
