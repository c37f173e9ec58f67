/** Training a model from a data set with gaps: the API behind `gapseg train`. */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { parseClassesFlag, type ClassDescription } from '../data/classes.js';
import { DEFAULT_TRAIN, resolveClasses, runTraining, type RunResult, type TrainConfig, type TrainObserver } from '../train/run.js';
import type { EpochRecord } from '../train/loop.js';
import { GAP_LOSSES, type GapLoss } from '../losses/trainingLoss.js';
import type { RefineCheck } from '../predict/refineCheck.js';
import { reportObserver } from '../report/runReport.js';
import { startEngine } from './engine.js';
import { progressCallbacks, type ProgressEvent } from './progress.js';
import { mobileNetV2WeightsFile } from './weights.js';
import { DEFAULT_FINE_TUNE } from '../train/loop.js';
import { netKind, type NetConfig } from '../nets/index.js';
import { modelDirOf, readModelMeta } from '../formats/modelFolder.js';
import { readRunConfig } from '../train/runConfig.js';

/** How to train; every option is the `gapseg train` flag of the same name (camelCase). */
export interface TrainOptions {
  /** The run folder to create (checkpoints, model, history, report). */
  out: string;
  /** Classes as "0=background,255=smoke" (value=name pairs, or names for 0..n-1), or a description; default: gapseg.json or codes.txt beside the data. */
  classes?: string | ClassDescription;
  /** With a classes string: label values or class names that mean unlabelled. */
  void?: (string | number)[];
  /** A codes.txt or gapseg.json class description. */
  classFile?: string;
  /** Erode every class by this many pixels (at training scale); the band becomes void. */
  makeGap?: number;
  /** With makeGap: how uneven the gaps are, 0 (symmetric, default) to 1: the two sides and the width along a boundary differ. */
  gapUneven?: number;
  scale?: number;
  crop?: number;
  batch?: number;
  epochs?: number;
  lr?: number;
  weightDecay?: number;
  /** Loss weight per class, in class order. */
  classWeights?: number[];
  /** The network: 'mobilenet_v2' (default), a U-Net decoder on an ImageNet-pretrained MobileNetV2, fine-tuned, or 'unet', a U-Net trained from scratch (naming depth or width chooses it too). */
  encoder?: 'unet' | 'mobilenet_v2';
  /** The MobileNetV2 .tflite file (default: gapseg's cache, downloaded there when missing). */
  encoderWeights?: string;
  /** With mobilenet_v2: epochs with the encoder frozen before it trains too (default 1). */
  freezeEpochs?: number;
  /** With mobilenet_v2: the encoder's learning rate is the decoder's divided by this (default 10). */
  encoderLrDiv?: number;
  /** The U-Net's levels (naming it, or width, chooses the U-Net). */
  depth?: number;
  /** The U-Net's channels at its first level. */
  width?: number;
  validFraction?: number;
  seed?: number;
  tile?: number;
  maxPixels?: number;
  /** Flips, rotations, scaling and colour jitter (default true). */
  augment?: boolean;
  /** Share of crops centred on a pixel of a randomly drawn class. */
  classBalance?: number;
  /** What the loss does with the gap: 'softmax' (default) trains it as one more output in the softmax, left out of the saved model; 'none' leaves it out of the loss. */
  gapLoss?: GapLoss;
  /** Compute threads (default: all cores, at most 8). */
  threads?: number;
  /** Start from the weights of this run or model folder (its network, classes and input normalisation; its run's crop, batch, rate, scale, gap and tile unless given): refine a model, e.g. once more labels are painted. */
  initFrom?: string;
  /** Train on the images that have a label file, leaving out (and counting) those that have none yet. */
  skipUnlabelled?: boolean;
  /** Continue the run in `out` from its last checkpoint (its own settings are kept). */
  resume?: boolean;
  /** Start over in a run folder that already holds a run. */
  force?: boolean;
  /** Keep report.html in the run folder (default true). */
  report?: boolean;
  /** Pause after this many epochs in total; the run stays resumable. */
  stopAfterEpochs?: number;
  /** Progress of loading and of every epoch. */
  onProgress?: (e: ProgressEvent) => void;
  /** After each epoch, once its checkpoint (and, if better, the model) is written. */
  onEpoch?: (e: EpochRecord) => void | Promise<void>;
  /** Notes and per-epoch summary lines. */
  log?: (line: string) => void;
}

/** What a finished (or paused) training gives back. */
export interface TrainResult {
  /** The run folder. */
  dir: string;
  /** The best model's folder (by validation mean IoU), to open with openModel. */
  modelDir: string;
  history: EpochRecord[];
  bestEpoch: number | null;
  seconds: number;
  /** Whether `refine: 'auto'` refines this model's predictions, and the validation accuracies behind it (null: no validation images). */
  refineCheck: RefineCheck | null;
}

/** Valid ranges of the numeric options. */
const RANGES: [keyof TrainOptions, string, number, number][] = [
  ['scale', 'scale', 0.01, 16],
  ['crop', 'crop', 16, 4096],
  ['batch', 'batch', 1, 1024],
  ['epochs', 'epochs', 1, 100000],
  ['depth', 'depth', 1, 8],
  ['width', 'width', 1, 512],
  ['validFraction', 'valid-fraction', 0, 0.9],
  ['makeGap', 'make-gap', 0, 1000],
  ['gapUneven', 'gap-uneven', 0, 1],
  ['lr', 'lr', 1e-8, 10],
  ['weightDecay', 'weight-decay', 0, 1],
  ['tile', 'tile', 32, 65536],
  ['classBalance', 'class-balance', 0, 1],
  ['freezeEpochs', 'freeze-epochs', 0, 100000],
  ['encoderLrDiv', 'encoder-lr-div', 1, 1e6],
];
const INTEGERS = new Set(['freezeEpochs', 'crop', 'batch', 'epochs', 'depth', 'width', 'makeGap', 'tile', 'seed', 'maxPixels', 'stopAfterEpochs']);
function checkNumber(value: unknown, flag: string, lo: number, hi: number, integer: boolean): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new GapsegError(`--${flag} must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(value)}`, 2);
  }
  if (value < lo || value > hi) throw new GapsegError(`--${flag} must be between ${lo} and ${hi}, got ${value}`, 2);
}

/** The gap loss of the options. */
function gapLossOf(o: TrainOptions): GapLoss {
  const gap = o.gapLoss ?? DEFAULT_TRAIN.gapLoss;
  if (!GAP_LOSSES.includes(gap)) throw new GapsegError(`--gap-loss must be ${GAP_LOSSES.join(' or ')}, got "${String(gap)}"`, 2);
  return gap;
}

/** The class description the options name, or null to look beside the data. */
function classesOf(o: TrainOptions): { classes: ClassDescription | null; file: string | null } {
  if (o.classes !== undefined && o.classFile !== undefined) throw new GapsegError('give either --classes or --class-file, not both', 2);
  if (typeof o.classes === 'string') return { classes: parseClassesFlag(o.classes, (o.void ?? []).map(String)), file: null };
  if ((o.void ?? []).length > 0) {
    throw new GapsegError('--void goes with --classes; in a class file, name void values there ("void" in codes.txt, "void": [...] in gapseg.json)', 2);
  }
  return { classes: o.classes ?? null, file: o.classFile ?? null };
}

/**
 * The network of a run: the one it refines (--init-from), the one named, a U-Net where a U-Net
 * option is given, else the ImageNet-pretrained MobileNetV2 U-Net, whose weights are fetched on
 * first use: the same command trains the same network on every machine.
 */
export function chooseEncoder(o: TrainOptions): 'unet' | 'mobilenet_v2' {
  if (o.initFrom !== undefined) return netKind(startModel(o.initFrom).net) === 'unet' ? 'unet' : 'mobilenet_v2';
  if (o.encoder !== undefined) return o.encoder;
  if (o.depth !== undefined || o.width !== undefined) return 'unet';
  return 'mobilenet_v2';
}

/** The crop side rounded to the network's multiple (at least one multiple), with a note when it moved. */
function roundCrop(crop: number, multiple: number, why: string, note: (line: string) => void): number {
  if (crop % multiple === 0) return crop;
  const rounded = Math.max(multiple, Math.round(crop / multiple) * multiple);
  note(`note: --crop ${crop} rounded to ${rounded}, a multiple of ${multiple} (${why})`);
  return rounded;
}

/** The model a run refines (--init-from): its folder and what it holds. */
function startModel(from: string): { dir: string; net: NetConfig; classes: ClassDescription } {
  const dir = path.resolve(modelDirOf(from));
  const meta = readModelMeta(dir);
  return { dir, net: meta.net, classes: meta.classes };
}

/**
 * A refining run's defaults from the run it refines (its config.json beside or above the model):
 * the same crop, batch, rate, scale, gap and tile, so that a few more epochs continue its recipe.
 */
function refineDefaults(from: string): Partial<TrainOptions> {
  const dir = path.resolve(modelDirOf(from));
  const file = [path.join(dir, 'config.json'), path.join(dir, '..', 'config.json')].find((f) => fs.existsSync(f));
  if (!file) return {};
  const c = readRunConfig(file);
  return { crop: c.crop, batch: c.batchSize, lr: c.lr, weightDecay: c.weightDecay, scale: c.scale, makeGap: c.makeGap, ...(c.gapUneven ? { gapUneven: c.gapUneven } : {}), tile: c.tile };
}

/** The settings a run refining `from` takes from it: its network (network options must agree); its classes, which the data set's must equal. */
function initFromSettings(from: string, o: TrainOptions, classes: ClassDescription): Partial<TrainConfig> {
  const m = startModel(from);
  const unet = netKind(m.net) === 'unet';
  const has = { encoder: unet ? 'unet' : 'mobilenet_v2', depth: unet ? (m.net as { depth: number }).depth : undefined, width: unet ? (m.net as { baseWidth: number }).baseWidth : undefined };
  for (const k of ['encoder', 'depth', 'width'] as const) {
    if (o[k] !== undefined && o[k] !== has[k]) throw new GapsegError(`--init-from ${from} trains its own network (${k} ${has[k] ?? 'none'}); --${k} ${o[k]} differs`, 2);
  }
  const same = (a: ClassDescription) => JSON.stringify(a.classes.map((c) => [c.name, c.value]));
  if (same(m.classes) !== same(classes)) {
    throw new GapsegError(`--init-from ${from}: its classes (${m.classes.classes.map((c) => `${c.value}=${c.name}`).join(', ')}) differ from the data set's (${classes.classes.map((c) => `${c.value}=${c.name}`).join(', ')})`, 2);
  }
  if (unet) return { initFrom: m.dir, depth: has.depth, baseWidth: has.width };
  return { initFrom: m.dir, decoderWidths: (m.net as { decoderWidths: number[] }).decoderWidths };
}

/** The run's full settings from the options (checked as `gapseg train` checks its flags); `note` hears what was adjusted. */
export function trainConfig(dataset: string, options: TrainOptions, note: (line: string) => void = () => undefined): TrainConfig {
  const o: TrainOptions = options.initFrom !== undefined ? ({ ...refineDefaults(options.initFrom), ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as TrainOptions) : options;
  for (const [key, flag, lo, hi] of RANGES) checkNumber(o[key], flag, lo, hi, INTEGERS.has(key));
  checkNumber(o.seed, 'seed', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true);
  if (o.maxPixels !== undefined && !(Number.isInteger(o.maxPixels) && o.maxPixels >= 1)) throw new GapsegError('--max-pixels must be at least 1', 2);
  const encoder = chooseEncoder(o);
  if (encoder !== 'unet' && encoder !== 'mobilenet_v2') throw new GapsegError(`--encoder must be unet or mobilenet_v2, not "${String(encoder)}"`, 2);
  const mobile = encoder === 'mobilenet_v2';
  if (!mobile) {
    const stray = (['encoderWeights', 'freezeEpochs', 'encoderLrDiv'] as const).find((k) => o[k] !== undefined);
    if (stray) throw new GapsegError(`--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} goes with --encoder mobilenet_v2`, 2);
  }
  const gapLoss = gapLossOf(o);
  const given = classesOf(o);
  const { classes, source } = resolveClasses(path.resolve(dataset), given.classes, given.file);
  const from = o.initFrom !== undefined ? initFromSettings(o.initFrom, o, classes) : {};
  const depth = from.depth ?? o.depth ?? DEFAULT_TRAIN.depth;
  const crop = mobile
    ? roundCrop(o.crop ?? DEFAULT_TRAIN.crop, 32, "the MobileNetV2 encoder's deepest features are at stride 32", note)
    : roundCrop(o.crop ?? DEFAULT_TRAIN.crop, 2 ** depth, `2^depth, so that the U-Net's ${depth} levels line up`, note);
  const weights = o.classWeights ?? [];
  if (weights.length > 0 && (weights.length !== classes.classes.length || weights.some((w) => !(typeof w === 'number' && w >= 0)))) {
    throw new GapsegError(`--class-weights needs ${classes.classes.length} non-negative numbers (one per class: ${classes.classes.map((c) => c.name).join(', ')})`, 2);
  }
  const noAugment = o.augment === false;
  return {
    ...DEFAULT_TRAIN,
    dataset: path.resolve(dataset),
    classSource: source,
    classes,
    scale: o.scale ?? DEFAULT_TRAIN.scale,
    makeGap: o.makeGap ?? DEFAULT_TRAIN.makeGap,
    ...(o.gapUneven ? { gapUneven: o.gapUneven } : {}),
    crop,
    batchSize: o.batch ?? DEFAULT_TRAIN.batchSize,
    epochs: o.epochs ?? DEFAULT_TRAIN.epochs,
    lr: o.lr ?? DEFAULT_TRAIN.lr,
    weightDecay: o.weightDecay ?? DEFAULT_TRAIN.weightDecay,
    classWeights: weights.length ? weights : null,
    depth,
    baseWidth: o.width ?? DEFAULT_TRAIN.baseWidth,
    ...(mobile
      ? {
          encoder,
          encoderWeights: o.encoderWeights,
          fineTune: { freezeEpochs: o.freezeEpochs ?? DEFAULT_FINE_TUNE.freezeEpochs, encoderLrDiv: o.encoderLrDiv ?? DEFAULT_FINE_TUNE.encoderLrDiv },
        }
      : {}),
    validFraction: o.validFraction ?? DEFAULT_TRAIN.validFraction,
    seed: o.seed ?? DEFAULT_TRAIN.seed,
    tile: o.tile ?? DEFAULT_TRAIN.tile,
    augment: {
      ...(noAugment ? { scaleRange: [1, 1] as [number, number], flipRotate: false, brightness: 0, contrast: 0 } : DEFAULT_TRAIN.augment),
      classBalance: o.classBalance ?? DEFAULT_TRAIN.augment.classBalance,
    },
    gapLoss,
    ...(o.maxPixels !== undefined ? { maxPixels: o.maxPixels } : {}),
    ...(o.skipUnlabelled ? { skipUnlabelled: true } : {}),
    ...from,
  };
}

/** Train (or, with resume, continue training) a model on a data set; returns when the run has finished or paused. */
export async function train(dataset: string, options: TrainOptions): Promise<TrainResult> {
  const log = options.log ?? (() => undefined);
  if (!options.out) throw new GapsegError('--out <run-dir> is required (the run folder to create)', 2);
  checkNumber(options.stopAfterEpochs, 'stop-after-epochs', 1, 100000, true);
  const out = path.resolve(options.out);
  // With resume the run keeps its own settings: only the data set is checked against them.
  const config = options.resume ? null : trainConfig(dataset, options, log);
  if (config?.encoder === 'mobilenet_v2' && !config.initFrom) config.encoderWeights = await mobileNetV2WeightsFile(options.encoderWeights, log, progressCallbacks(options.onProgress));
  await startEngine(options.threads, log);
  const observers: TrainObserver[] = [];
  if (options.report !== false) observers.push(reportObserver());
  const onEpoch = options.onEpoch;
  if (onEpoch) observers.push({ onEpochEnd: (r) => onEpoch(r) });
  const r: RunResult = await runTraining(out, config, {
    resume: options.resume ?? false,
    force: options.force ?? false,
    dataset: options.resume ? path.resolve(dataset) : undefined,
    log,
    progress: progressCallbacks(options.onProgress),
    observers,
    stopAfterEpochs: options.stopAfterEpochs,
  });
  return { dir: r.runDir, modelDir: path.join(r.runDir, 'model'), history: r.history, bestEpoch: r.bestEpoch, seconds: r.seconds, refineCheck: r.refineCheck };
}
