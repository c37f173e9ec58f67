/**
 * The one place that decides which engine predicts: a .onnx file runs on ONNX Runtime; a
 * gapseg run or model folder runs on ONNX Runtime when it holds a model.onnx exported from
 * its current weights, and on TensorFlow.js otherwise.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { defaultThreads, engineOptionsFromEnv, initEngine, newEngineWarnings } from '../engine/engine.js';
import { ONNX_RUNTIME_HINT, onnxRuntime } from '../engine/onnx/runtime.js';
import { openTfjsPredictor, type Predictor } from './model.js';
import { modelDirOf } from '../formats/modelFolder.js';
import { openOnnxPredictor, type OnnxOpenOptions } from './onnxPredictor.js';
import { ONNX_FILE, onnxIsCurrent } from '../formats/onnx/gapsegOnnx.js';

export type EngineChoice = 'auto' | 'onnx' | 'tfjs';

export interface OpenOptions extends Omit<OnnxOpenOptions, 'threads'> {
  engine?: EngineChoice;
  threads?: number;
}

/** Open a model for prediction, choosing the engine. */
export async function openPredictor(p: string, opts: OpenOptions = {}): Promise<Predictor> {
  const engine = opts.engine ?? 'auto';
  const threads = opts.threads ?? defaultThreads();
  const onnxOpts: OnnxOpenOptions = { ...opts, threads };
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
  await initEngine({ ...engineOptionsFromEnv(), threads });
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
