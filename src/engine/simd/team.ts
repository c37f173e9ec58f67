/**
 * A team of threads for gapseg's SIMD kernels. The tfjs thread pool (XNNPACK's pthreadpool)
 * cannot run our functions, so without this our kernels use one core of two. Each helper is a
 * `worker_threads` Worker with its own instance of the kernels module on the same shared
 * wasm memory; a kernel's work is cut into ranges, the main thread runs the first and blocks
 * (Atomics.wait) until the helpers have run theirs. The kernels use no stack and no globals,
 * so instances sharing one memory cannot disturb each other; callers give each thread a
 * disjoint part of the output.
 */
import { Worker } from 'node:worker_threads';

/** Threads that split one kernel call between them. */
export interface KernelTeam {
  /** Threads taking part, the main thread included (1: no helpers). */
  readonly size: number;
  /**
   * Run the exported kernel `name` as name(...args, start, end, part) for contiguous ranges
   * that cover [0, total), one per thread (part: the thread's index below size, for a kernel
   * that takes per-thread scratch; the others ignore it), and return when all have finished.
   */
  split(name: string, args: number[], total: number): void;
  /** Block until every helper has started (at most timeoutMs); whether they all have. */
  awaitHelpers(timeoutMs: number): boolean;
}

// Control block per helper (Int32 slots): the job number posted, the job number finished,
// whether the helper is ready, whether the last job failed, the kernel's index, its argument
// count; then the arguments as float64.
const POSTED = 0;
const DONE = 1;
const READY = 2;
const FAILED = 3;
const KERNEL = 4;
const ARGC = 5;
const ARGS_OFFSET = 32;
const MAX_ARGS = 32;

const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, names } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const kernels = names.map((n) => exports[n]);
const ctl = new Int32Array(control, 0, 8);
const args = new Float64Array(control, ${ARGS_OFFSET}, ${MAX_ARGS});
let seen = 0;
Atomics.store(ctl, ${READY}, 1);
Atomics.notify(ctl, ${READY});
for (;;) {
  Atomics.wait(ctl, ${POSTED}, seen);
  seen = Atomics.load(ctl, ${POSTED});
  let failed = 0;
  try {
    kernels[ctl[${KERNEL}]](...args.subarray(0, ctl[${ARGC}]));
  } catch {
    failed = 1;
  }
  Atomics.store(ctl, ${FAILED}, failed);
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;

interface Helper {
  ctl: Int32Array;
  args: Float64Array;
  posted: number;
}

/** Ranges [start, end) cutting [0, total) into `parts` nearly equal pieces. */
export function ranges(total: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let t = 0; t < parts; t++) out.push([Math.floor((t * total) / parts), Math.floor(((t + 1) * total) / parts)]);
  return out;
}

/**
 * A team of `threads` (main thread included) over `memory`, each helper instantiating
 * `module`. With threads <= 1, or if helpers cannot be started, the team is the main thread.
 */
export function createTeam(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  exportsOfMain: Record<string, (...a: number[]) => unknown>,
  threads: number,
): KernelTeam {
  const names = Object.keys(exportsOfMain).filter((n) => typeof exportsOfMain[n] === 'function');
  const helpers: Helper[] = [];
  for (let t = 1; t < threads; t++) {
    const control = new SharedArrayBuffer(ARGS_OFFSET + 8 * MAX_ARGS);
    try {
      const worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { module, memory, control, names } });
      // An idle helper must not keep the process alive.
      worker.unref();
      const helper: Helper = { ctl: new Int32Array(control, 0, 8), args: new Float64Array(control, ARGS_OFFSET, MAX_ARGS), posted: 0 };
      // A helper that fails to start (it never reports ready) is left out; without a
      // listener its error would end the whole process.
      worker.on('error', () => Atomics.store(helper.ctl, READY, -1));
      helpers.push(helper);
    } catch {
      break;
    }
  }
  return {
    size: 1 + helpers.length,
    awaitHelpers(timeoutMs) {
      const end = performance.now() + timeoutMs;
      for (const h of helpers) {
        while (Atomics.load(h.ctl, READY) === 0) {
          const left = end - performance.now();
          if (left <= 0) return false;
          Atomics.wait(h.ctl, READY, 0, left);
        }
      }
      return helpers.every((h) => Atomics.load(h.ctl, READY) === 1);
    },
    split(name, args, total) {
      const kernel = exportsOfMain[name];
      if (!kernel) throw new Error(`no SIMD kernel named ${name}`);
      if (args.length + 3 > MAX_ARGS) throw new Error(`SIMD kernel ${name}: too many arguments`);
      // Helpers still starting up get no share; the others get equal ones.
      const ready = helpers.filter((h) => Atomics.load(h.ctl, READY) === 1);
      const parts = ranges(total, 1 + ready.length);
      const index = names.indexOf(name);
      ready.forEach((h, i) => {
        const [start, end] = parts[i + 1];
        h.args.set([...args, start, end, i + 1]);
        h.ctl[KERNEL] = index;
        h.ctl[ARGC] = args.length + 3;
        h.posted += 1;
        Atomics.store(h.ctl, POSTED, h.posted);
        Atomics.notify(h.ctl, POSTED);
      });
      let mainError: unknown = null;
      try {
        kernel(...args, parts[0][0], parts[0][1], 0);
      } catch (e) {
        mainError = e;
      }
      // Wait for every helper even when the main share failed: they write into the heap.
      let failed = false;
      for (const h of ready) {
        for (;;) {
          const done = Atomics.load(h.ctl, DONE);
          if (done === h.posted) break;
          Atomics.wait(h.ctl, DONE, done);
        }
        failed ||= Atomics.load(h.ctl, FAILED) !== 0;
      }
      if (mainError) throw mainError;
      if (failed) throw new Error(`SIMD kernel ${name} failed in a helper thread`);
    },
  };
}
