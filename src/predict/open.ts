/**
 * The one place that decides which engine predicts: a .onnx file runs on ONNX Runtime; a
 * gapseg run or model folder runs on ONNX Runtime when it holds a model.onnx exported from
 * its current weights, and on TensorFlow.js otherwise.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { defaultThreads, initEngine } from '../engine/engine.js';
import { modelDirOf, openTfjsPredictor, type Predictor } from './model.js';
import { META, openOnnxPredictor, readOnnxFile, type OnnxOpenOptions } from './onnxPredictor.js';

export type EngineChoice = 'auto' | 'onnx' | 'tfjs';

export interface OpenOptions extends Omit<OnnxOpenOptions, 'threads'> {
  engine?: EngineChoice;
  threads?: number;
}

/** File name of the ONNX export inside a model folder. */
export const ONNX_FILE = 'model.onnx';

/** SHA-256 of a file, hex. */
export function fileSha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * Whether a model folder's model.onnx was exported from the weights now in the folder (a
 * training run that saves a better model replaces the folder, and with it any old export;
 * the hash guards against a model.onnx copied in by hand).
 */
export function onnxIsCurrent(dir: string): { ok: boolean; why?: string } {
  const onnx = path.join(dir, ONNX_FILE);
  if (!fs.existsSync(onnx)) return { ok: false, why: 'no model.onnx' };
  const { summary } = readOnnxFile(onnx);
  const recorded = summary.metadata[META.weights];
  const actual = fileSha256(path.join(dir, 'weights.bin'));
  if (recorded !== actual) return { ok: false, why: `${onnx} was exported from other weights than ${path.join(dir, 'weights.bin')}; run gapseg export again` };
  return { ok: true };
}

/** Open a model for prediction, choosing the engine. */
export async function openPredictor(p: string, opts: OpenOptions = {}): Promise<Predictor> {
  const engine = opts.engine ?? 'auto';
  const threads = opts.threads ?? defaultThreads();
  const onnxOpts: OnnxOpenOptions = { ...opts, threads };
  const isFile = fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
  if (isFile) {
    if (engine === 'tfjs') throw new GapsegError(`${p}: an ONNX file runs on ONNX Runtime only (--engine tfjs needs a gapseg model folder)`);
    return openOnnxPredictor(p, onnxOpts);
  }
  const dir = modelDirOf(p);
  const foreignFlags = opts.channels || opts.mean || opts.std || opts.layout || opts.scores;
  if (foreignFlags) throw new GapsegError(`${p}: a gapseg model describes its own classes, layout and normalisation; --classes, --class-file, --layout, --scores, --mean and --std are for foreign .onnx files`);
  if (engine !== 'tfjs') {
    const current = onnxIsCurrent(dir);
    if (current.ok) return openOnnxPredictor(path.join(dir, ONNX_FILE), onnxOpts);
    if (engine === 'onnx') throw new GapsegError(`${dir}: cannot predict with ONNX Runtime: ${current.why} (create it with: gapseg export ${p})`);
    if (current.why !== 'no model.onnx') opts.log?.(`note: ${current.why}; predicting with TensorFlow.js`);
  }
  await initEngine({ threads });
  const predictor = openTfjsPredictor(dir);
  if (opts.batch) predictor.batch = opts.batch;
  if (opts.size || opts.pad || opts.tile) {
    predictor.plan = { ...predictor.plan, size: opts.size ?? predictor.plan.size, pad: opts.pad ?? predictor.plan.pad, tile: opts.tile ?? predictor.plan.tile };
  }
  return predictor;
}
