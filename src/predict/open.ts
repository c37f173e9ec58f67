/**
 * The one place that decides which engine predicts: a .onnx file runs on ONNX Runtime; a
 * gapseg run or model folder runs on ONNX Runtime when it holds a model.onnx exported from
 * its current weights, and on TensorFlow.js otherwise. The device narrows that: cuda is ONNX
 * Runtime's, webgpu TensorFlow.js's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { defaultThreads, engineOptionsFromEnv, initEngine, newEngineWarnings, resolveDevice } from '../engine/engine.js';
import type { Device } from '../engine/device.js';
import { ONNX_RUNTIME_HINT, onnxRuntime, type OnnxDevice } from '../engine/onnx/runtime.js';
import { openTfjsPredictor, type Predictor } from './model.js';
import { modelDirOf } from '../formats/modelFolder.js';
import { openOnnxPredictor, type OnnxOpenOptions } from './onnxPredictor.js';
import { ONNX_FILE, onnxIsCurrent } from '../formats/onnx/gapsegOnnx.js';

export type EngineChoice = 'auto' | 'onnx' | 'tfjs';

/** Where prediction computes: TensorFlow.js's devices and ONNX Runtime's CUDA. */
export type PredictDevice = Device | OnnxDevice;

export interface OpenOptions extends Omit<OnnxOpenOptions, 'threads' | 'device'> {
  engine?: EngineChoice;
  device?: PredictDevice;
  threads?: number;
}

/** Open a model for prediction, choosing the engine. */
export async function openPredictor(p: string, opts: OpenOptions = {}): Promise<Predictor> {
  const asked = opts.device ?? 'cpu';
  const resolved = asked === 'auto' ? await resolveDevice('auto') : null;
  if (resolved?.note) opts.log?.(`note: ${resolved.note}`);
  const device = resolved?.device ?? asked;
  const engine = device === 'webgpu' ? tfjsOnly(p, opts.engine ?? 'auto') : (opts.engine ?? 'auto');
  const threads = opts.threads ?? defaultThreads();
  const onnxOpts: OnnxOpenOptions = { ...opts, threads, device: device === 'cuda' ? 'cuda' : 'cpu' };
  const isFile = fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
  if (isFile) {
    if (engine === 'tfjs')
      throw new GapsegError(`${p}: an ONNX file runs on ONNX Runtime only (--engine tfjs needs a gapseg model folder)`);
    return openOnnxPredictor(p, onnxOpts);
  }
  const dir = modelDirOf(p);
  const foreignFlags = opts.channels || opts.mean || opts.std || opts.layout || opts.scores;
  if (foreignFlags)
    throw new GapsegError(
      `${p}: a gapseg model describes its own classes, layout and normalisation; --channels, --channel-file, --layout, --scores, --mean and --std are for foreign .onnx files`,
    );
  if (engine !== 'tfjs') {
    const current = onnxIsCurrent(dir);
    const runtime = onnxRuntime();
    if (current.ok && 'missing' in runtime && engine === 'auto') {
      opts.log?.(
        `warning: ${runtime.missing}, so ${path.join(dir, ONNX_FILE)} is not used: predicting with TensorFlow.js (slower); ${ONNX_RUNTIME_HINT}`,
      );
    } else if (current.ok) return openOnnxPredictor(path.join(dir, ONNX_FILE), onnxOpts);
    else if (engine === 'onnx')
      throw new GapsegError(`${dir}: cannot predict with ONNX Runtime: ${current.why} (create it with: gapseg export ${p})`);
    else if (current.why !== 'no model.onnx') opts.log?.(`note: ${current.why}; predicting with TensorFlow.js`);
    else if ('missing' in runtime && engine === 'auto')
      opts.log?.(
        `note: ${runtime.missing}: predicting with TensorFlow.js; gapseg export and faster prediction need it: ${ONNX_RUNTIME_HINT}`,
      );
  }
  if (device === 'cuda')
    throw new GapsegError(
      `${dir}: --device cuda runs ONNX Runtime, and this model has no current model.onnx (create it with: gapseg export ${p})`,
    );
  await initEngine({ ...engineOptionsFromEnv(), threads, device: device as Device });
  for (const w of newEngineWarnings()) opts.log?.(`warning: ${w}`);
  const predictor = openTfjsPredictor(dir);
  if (opts.batch) predictor.batch = opts.batch;
  if (opts.size || opts.pad || opts.tile) {
    predictor.plan = {
      ...predictor.plan,
      size: opts.size ?? predictor.plan.size,
      pad: opts.pad ?? predictor.plan.pad,
      tile: opts.tile ?? predictor.plan.tile,
    };
  }
  return predictor;
}

/** WebGPU is TensorFlow.js's: refuse what would need ONNX Runtime. */
function tfjsOnly(p: string, engine: EngineChoice): EngineChoice {
  if (engine === 'onnx') throw new GapsegError('--device webgpu runs TensorFlow.js: it does not go with --engine onnx', 2);
  if (fs.statSync(p, { throwIfNoEntry: false })?.isFile())
    throw new GapsegError(`${p}: an ONNX file runs on ONNX Runtime (--device cpu or cuda), not on WebGPU`);
  return 'tfjs';
}
