/**
 * The worker thread that owns an onnxruntime session. onnxruntime-node's run() computes
 * synchronously on the calling thread, so running it here leaves the main thread free to
 * prepare the next batch and to post-process the last one while the network runs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

export interface WorkerInit {
  model: string | Uint8Array;
  threads: number;
  /** ONNX Runtime execution providers, in order of preference. */
  providers: string[];
  /** Let idle intra-op threads spin (lower latency) rather than sleep (CPU left for others). */
  spin: boolean;
}

export type WorkerRequest = { id: number; input: Float32Array; dims: number[] };

export type WorkerReply =
  | { type: 'ready'; inputs: MetaOut[]; outputs: MetaOut[] }
  | { type: 'result'; id: number; data: Float32Array; dims: number[] }
  | { type: 'error'; id: number; message: string };

export interface MetaOut {
  name: string;
  type: string;
  shape: (number | string)[];
}

function describe(m: ort.InferenceSession.ValueMetadata): MetaOut {
  return m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] };
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('the ONNX Runtime worker must run as a worker thread');
  const init = workerData as WorkerInit;
  // ONNX Runtime's process-wide logger would print its own lines (a CUDA provider that fails
  // to load, say) on stderr; the exception carries the reason to the caller instead.
  ort.env.logLevel = 'fatal';
  let session: ort.InferenceSession;
  try {
    const opts: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: init.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Fatal only: errors reach the caller as the session's exception, not as log lines on stderr.
      logSeverityLevel: 4,
      executionProviders: init.providers,
      extra: { session: { intra_op: { allow_spinning: init.spin ? '1' : '0' } } },
    };
    session =
      typeof init.model === 'string'
        ? await ort.InferenceSession.create(init.model, opts)
        : await ort.InferenceSession.create(init.model, opts);
  } catch (e) {
    port.postMessage({ type: 'error', id: -1, message: (e as Error).message.split('\n')[0] } satisfies WorkerReply);
    return;
  }
  port.postMessage({
    type: 'ready',
    inputs: session.inputMetadata.map(describe),
    outputs: session.outputMetadata.map(describe),
  } satisfies WorkerReply);
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  port.on('message', async (req: WorkerRequest) => {
    try {
      const out = await session.run({ [inputName]: new ort.Tensor('float32', req.input, req.dims) }, [outputName]);
      const y = out[outputName];
      if (y.type !== 'float32') throw new Error(`output "${outputName}" is ${y.type}, expected float32`);
      const data = y.data as Float32Array;
      const reply: WorkerReply = { type: 'result', id: req.id, data, dims: [...y.dims] };
      // Hand the buffer over without copying when it is exactly ours.
      const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
      port.postMessage(reply, own ? [data.buffer as ArrayBuffer] : []);
    } catch (e) {
      port.postMessage({ type: 'error', id: req.id, message: (e as Error).message.split('\n')[0] } satisfies WorkerReply);
    }
  });
}

void main();
