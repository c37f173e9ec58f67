/**
 * Opening a model for prediction: a run folder (its best model) or a model folder.
 * Gives a uniform predictor: the logits function, what each output channel means, and how
 * to prepare input.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { loadModel, type InputRecipe } from '../formats/modelFolder.js';
import { disposeUNet } from '../nets/unet/unet.js';
import { tfjsNet } from './tfjsNet.js';
import type { OutputClass } from './outputs.js';
import { recipePlan, type InputPlan } from './plan.js';

/** Runs the network on a batch: planar NCHW normalised input -> NCHW scores [n, K, h, w]. */
export type NetFn = (input: Float32Array, n: number, height: number, width: number) => Promise<Float32Array>;

export interface Predictor {
  /** What was opened, for messages. */
  source: string;
  engine: 'tfjs' | 'onnx';
  /** One entry per output channel. */
  classes: OutputClass[];
  recipe: InputRecipe;
  /** Input sides must be multiples of this. */
  multiple: number;
  /** The network on planar batches. */
  net: NetFn;
  /** How images become network windows. */
  plan: InputPlan;
  /** What the network outputs per class. */
  scores: 'logits' | 'probabilities';
  /** Classes never predicted unless asked (void channels of models trained with void). */
  defaultForbidden: number[];
  /** Windows per network call. */
  batch: number;
  /** Network calls worth keeping in flight (default 2). */
  inflight?: number;
  dispose(): void;
}

/** The model folder of a run folder, or the folder itself if it is a model. */
export function modelDirOf(p: string): string {
  if (!fs.existsSync(p)) throw new GapsegError(`${p}: not found`);
  if (fs.existsSync(path.join(p, 'model', 'gapseg.json'))) return path.join(p, 'model');
  if (fs.existsSync(path.join(p, 'gapseg.json')) && fs.existsSync(path.join(p, 'model.json'))) return p;
  if (fs.existsSync(path.join(p, 'config.json'))) {
    throw new GapsegError(`${p}: this run has no model yet (no epoch has finished)`);
  }
  throw new GapsegError(`${p}: not a gapseg run or model folder (expected model/gapseg.json or model.json + gapseg.json)`);
}


/** Open a gapseg run or model folder with the TensorFlow.js engine. */
export function openTfjsPredictor(p: string): Predictor {
  const dir = modelDirOf(p);
  const { net, meta } = loadModel(dir);
  return {
    source: dir,
    engine: 'tfjs',
    classes: meta.classes.classes.map((c) => ({ name: c.name, value: c.value, color: c.color })),
    recipe: meta.input,
    multiple: 2 ** meta.unet.depth,
    net: tfjsNet(net),
    plan: recipePlan(meta.input, 2 ** meta.unet.depth),
    scores: 'logits',
    defaultForbidden: [],
    batch: 4,
    dispose: () => disposeUNet(net),
  };
}
