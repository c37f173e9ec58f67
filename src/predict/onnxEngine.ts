/**
 * ONNX Runtime inference from the main thread's point of view: a session living in a worker
 * thread (see onnxWorker.ts), fed one batch at a time. Calls queue up in the worker, so
 * issuing the next batch before handling the last one keeps the network busy all the time.
 */
import { Worker } from 'node:worker_threads';
import { GapsegError } from '../util/errors.js';
import type { MetaOut, WorkerInit, WorkerReply } from './onnxWorker.js';

export type { MetaOut } from './onnxWorker.js';

export interface OnnxNet {
  inputs: MetaOut[];
  outputs: MetaOut[];
  /** Run the model's first input -> first output. The input buffer is handed over (detached). */
  run(input: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }>;
  close(): Promise<void>;
}

/**
 * Start a session on a model file (or its bytes) with `threads` intra-op threads. `name`
 * names the model in error messages.
 */
export async function openOnnxNet(model: string | Uint8Array, threads: number, name: string): Promise<OnnxNet> {
  const init: WorkerInit = { model, threads, spin: process.env.GAPSEG_ORT_SPIN === '1' };
  const worker = new Worker(new URL('./onnxWorker.js', import.meta.url), { workerData: init });
  const waiting = new Map<number, { resolve: (r: { data: Float32Array; dims: number[] }) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let failure: Error | null = null;
  // An idle worker must not keep the process alive; a busy one must.
  const refresh = () => (waiting.size > 0 ? worker.ref() : worker.unref());

  const ready = new Promise<{ inputs: MetaOut[]; outputs: MetaOut[] }>((resolve, reject) => {
    worker.on('message', (m: WorkerReply) => {
      if (m.type === 'ready') resolve(m);
      else if (m.type === 'error' && m.id < 0) reject(new GapsegError(`${name}: onnxruntime cannot load the model (${m.message})`));
      else {
        const w = waiting.get(m.id);
        if (!w) return;
        waiting.delete(m.id);
        refresh();
        if (m.type === 'result') w.resolve({ data: m.data, dims: m.dims });
        else w.reject(new GapsegError(`${name}: onnxruntime failed (${m.message})`));
      }
    });
    worker.on('error', (e) => {
      failure = e;
      reject(e);
      for (const w of waiting.values()) w.reject(e);
      waiting.clear();
    });
  });
  const meta = await ready;
  refresh();
  return {
    ...meta,
    run(input, dims) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        refresh();
        const own = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength && input.buffer instanceof ArrayBuffer;
        worker.postMessage({ id, input, dims }, own ? [input.buffer as ArrayBuffer] : []);
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}
