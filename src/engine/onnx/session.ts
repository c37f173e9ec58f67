/**
 * ONNX Runtime inference from the main thread's point of view: sessions living in worker
 * threads (see worker.ts), fed one batch at a time. onnxruntime-node computes on the
 * thread that calls run(), so the main thread stays free to decode, blend and encode.
 *
 * By default one session uses all the threads (ONNX Runtime's intra-op pool). Two sessions
 * that split the threads and each run whole batches (GAPSEG_ORT_SESSIONS=2) avoid stalling
 * every parallel operator when sharp or the main thread take a core for a moment, and used
 * less CPU per image on a heavily loaded machine, but were slower on a moderately loaded one,
 * so they are an option; `npm run bench:predict` measures both.
 */
import { Worker } from 'node:worker_threads';
import { GapsegError } from '../../util/errors.js';
import type { MetaOut, WorkerInit, WorkerReply } from './worker.js';
import { requireOnnxRuntime, type OnnxDevice } from './runtime.js';

export type { MetaOut } from './worker.js';

export interface OnnxNet {
  inputs: MetaOut[];
  outputs: MetaOut[];
  /** Sessions running batches side by side (calls to keep in flight: sessions + 1). */
  sessions: number;
  /** Run the model's first input -> first output. The input buffer is handed over (detached). */
  run(input: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }>;
  close(): Promise<void>;
}

interface Session {
  worker: Worker;
  waiting: Map<number, { resolve: (r: { data: Float32Array; dims: number[] }) => void; reject: (e: Error) => void }>;
  meta: { inputs: MetaOut[]; outputs: MetaOut[] };
  failure: Error | null;
}

async function startSession(model: string | Uint8Array, threads: number, name: string, device: OnnxDevice): Promise<Session> {
  // CUDA first, the CPU for what it cannot run; never CPU alone when CUDA was asked for.
  const providers = device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'];
  const init: WorkerInit = { model, threads, providers, spin: process.env.GAPSEG_ORT_SPIN !== '0' };
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
  const s: Session = { worker, waiting: new Map(), meta: { inputs: [], outputs: [] }, failure: null };
  s.meta = await new Promise((resolve, reject) => {
    worker.on('message', (m: WorkerReply) => {
      if (m.type === 'ready') resolve(m);
      else if (m.type === 'error' && m.id < 0) {
        const why =
          device === 'cuda' ? `; is its CUDA provider installed (npm install onnxruntime-node downloads it) and a GPU present?` : '';
        reject(new GapsegError(`${name}: onnxruntime cannot load the model on ${device} (${m.message})${why}`));
      } else {
        const w = s.waiting.get(m.id);
        if (!w) return;
        s.waiting.delete(m.id);
        // An idle worker must not keep the process alive; a busy one must.
        if (s.waiting.size === 0) worker.unref();
        if (m.type === 'result') w.resolve({ data: m.data, dims: m.dims });
        else w.reject(new GapsegError(`${name}: onnxruntime failed (${m.message})`));
      }
    });
    worker.on('error', (e) => {
      s.failure = e;
      reject(e);
      for (const w of s.waiting.values()) w.reject(e);
      s.waiting.clear();
    });
  });
  worker.unref();
  return s;
}

/** Sessions to run by default: one, unless GAPSEG_ORT_SESSIONS=2 (and there are two threads). */
export function defaultSessions(threads: number): number {
  return Number(process.env.GAPSEG_ORT_SESSIONS) === 2 && threads >= 2 ? 2 : 1;
}

/**
 * Start `sessions` sessions on a model file (or its bytes) sharing `threads` threads, on the
 * CPU or CUDA. `name` names the model in error messages.
 */
export async function openOnnxNet(
  model: string | Uint8Array,
  threads: number,
  name: string,
  sessionCount = defaultSessions(threads),
  device: OnnxDevice = 'cpu',
): Promise<OnnxNet> {
  requireOnnxRuntime(name);
  const count = Math.max(1, Math.min(sessionCount, threads));
  const per = Math.max(1, Math.floor(threads / count));
  const sessions: Session[] = [];
  try {
    for (let i = 0; i < count; i++) sessions.push(await startSession(model, per, name, device));
  } catch (e) {
    await Promise.all(sessions.map((s) => s.worker.terminate()));
    throw e;
  }
  let nextId = 0;
  return {
    ...sessions[0].meta,
    sessions: count,
    run(input, dims) {
      // The session with the least work queued.
      const s = sessions.reduce((a, b) => (b.waiting.size < a.waiting.size ? b : a));
      if (s.failure) return Promise.reject(s.failure);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        s.waiting.set(id, { resolve, reject });
        s.worker.ref();
        // Copied, not transferred: V8 keeps counting a transferred buffer in this thread's
        // array-buffer memory until some later GC, which hides real leaks from the soak test;
        // the copy costs little next to the call.
        s.worker.postMessage({ id, input, dims });
      });
    },
    async close() {
      await Promise.all(sessions.map((s) => s.worker.terminate()));
    },
  };
}
