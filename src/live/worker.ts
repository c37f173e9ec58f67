/**
 * The live worker: a child process of the viewer's server (forked with an IPC channel), so that
 * live training never holds up the server, let alone the page. It starts the engine, builds the
 * live model (liveModel.ts) from the viewer's model or the pretrained encoder, and answers each
 * update by training for the time asked, then predicting the image. Updates queued behind a
 * newer one for the same image are answered without work (the page only wants the latest).
 */
import { describeEngine, engineOptionsFromEnv, initEngine } from '../engine/engine.js';
import { readModelMeta, readModelValues } from '../formats/modelFolder.js';
import { readMobileNetV2 } from '../formats/tflite/mobilenetV2.js';
import type { MobileUNetConfig } from '../nets/mobilenetV2/unet.js';
import { describeError } from '../util/errors.js';
import { createLiveModel, hasImage, predictLive, setImage, setLabels, trainFor, type LiveModel, type LiveStart } from './liveModel.js';
import type { LiveReply, LiveRequest } from './messages.js';

const reply = (r: LiveReply) => process.send!(r);

function startOf(r: Extract<LiveRequest, { type: 'start' }>): { start: LiveStart; line: string } {
  if (r.model) {
    const meta = readModelMeta(r.model);
    if (meta.net.kind === 'mobilenet_v2_unet' && meta.net.numClasses === r.numClasses) {
      const start: LiveStart = {
        kind: 'model',
        config: meta.net as MobileUNetConfig,
        values: readModelValues(r.model, meta),
        mean: meta.input.mean,
        std: meta.input.std,
      };
      return { start, line: `live model: the decoder of ${r.model} learning from the strokes (its encoder frozen)` };
    }
  }
  if (!r.encoderWeights) throw new Error('no MobileNetV2 model or ImageNet weights to start the live model from');
  const w = readMobileNetV2(r.encoderWeights);
  const start: LiveStart = {
    kind: 'encoder',
    numClasses: r.numClasses,
    encoder: w.encoder,
    mean: [w.input.mean, w.input.mean, w.input.mean],
    std: [w.input.std, w.input.std, w.input.std],
    seed: 1,
  };
  return { start, line: 'live model: a fresh U-Net decoder on the ImageNet MobileNetV2 encoder (frozen), learning from the strokes' };
}

let model: LiveModel | null = null;
const queue: Extract<LiveRequest, { type: 'update' }>[] = [];
let busy = false;

async function work(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    while (queue.length) {
      const u = queue.shift()!;
      try {
        if (!model) throw new Error('the live model has not started');
        if (u.rgb) setImage(model, u.key, u.rgb, u.width, u.height);
        if (!hasImage(model, u.key)) throw new Error(`no pixels for image ${u.key}`);
        if (u.labels) setLabels(model, u.key, u.labels);
        // A newer update of the same image waits: this one's labels count, its prediction would not.
        const superseded = () => queue.some((q) => q.key === u.key);
        if (superseded()) continue;
        const t0 = performance.now();
        const { steps, loss } = await trainFor(model, u.trainMs, superseded);
        if (superseded()) continue;
        const t1 = performance.now();
        const probs = await predictLive(model, u.key);
        const q = new Uint8Array(probs.length);
        for (let i = 0; i < probs.length; i++) q[i] = Math.round(probs[i] * 255);
        reply({
          type: 'prediction',
          id: u.id,
          key: u.key,
          width: u.width,
          height: u.height,
          probs: q,
          steps,
          totalSteps: model.steps,
          loss,
          trainMs: t1 - t0,
          predictMs: performance.now() - t1,
        });
      } catch (e) {
        reply({ type: 'error', id: u.id, message: describeError(e) });
      }
    }
  } finally {
    busy = false;
  }
}

process.on('message', (r: LiveRequest) => {
  if (r.type === 'start') {
    void (async () => {
      try {
        const info = await initEngine({ ...engineOptionsFromEnv(), device: r.device });
        const { start, line } = startOf(r);
        model = createLiveModel(start);
        reply({ type: 'ready', line: `${line}; ${describeEngine(info)}` });
      } catch (e) {
        reply({ type: 'error', id: null, message: describeError(e) });
      }
    })();
    return;
  }
  queue.push(r);
  void work();
});
process.on('disconnect', () => process.exit(0));
