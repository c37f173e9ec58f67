/**
 * Opening a model for prediction: a run folder (its best model) or a model folder.
 * Gives a uniform predictor: the logits function, what each output channel means, and how
 * to prepare input.
 */
import path from 'node:path';
import { loadModel, modelDirOf, type InputRecipe } from '../formats/modelFolder.js';
import { disposeNet, netMultiple, netReceptiveRadius } from '../nets/index.js';
import { tfjsNet } from './tfjsNet.js';
import { describeEngine, engineInfo } from '../engine/engine.js';
import type { OutputClass } from './outputs.js';
import { recipePlan, type InputPlan } from './plan.js';
import { refineCheckOf, type RefineCheck } from './refineCheck.js';
import type { PredictModel } from './pipeline.js';
import { finiteScores, type NetFn } from './netFn.js';

export type { NetFn };

export interface Predictor {
  /** What was opened, for messages. */
  source: string;
  engine: 'tfjs' | 'onnx';
  /** One line naming the compute path (engine, device, threads, kernels), as commands print it. */
  engineLine: string;
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
  /** The refinement check training stored with the model (none: foreign or older models). */
  refineCheck?: RefineCheck;
  dispose(): void;
}

/** The predictor's model view for predictImage. */
export function predictModel(p: Predictor): PredictModel {
  return { net: p.net, plan: p.plan, scores: p.scores, batch: p.batch, numClasses: p.classes.length };
}

/** Open a gapseg run or model folder with the TensorFlow.js engine. */
export function openTfjsPredictor(p: string): Predictor {
  const info = engineInfo();
  if (!info) throw new Error('openTfjsPredictor: start the engine first (initEngine)');
  const dir = modelDirOf(p);
  const { net, meta } = loadModel(dir);
  return {
    source: dir,
    engine: 'tfjs',
    engineLine: describeEngine(info),
    classes: meta.classes.classes.map((c) => ({ name: c.name, value: c.value, color: c.color })),
    recipe: meta.input,
    multiple: netMultiple(meta.net),
    net: finiteScores(tfjsNet(net), dir),
    plan: recipePlan(meta.input, netMultiple(meta.net), netReceptiveRadius(meta.net)),
    scores: 'logits',
    defaultForbidden: [],
    batch: 4,
    refineCheck: refineCheckOf(meta.info, path.join(dir, 'gapseg.json')),
    dispose: () => disposeNet(net),
  };
}
