/**
 * Training a model from a data set with gaps: the API behind `gapseg train`. Its options are the
 * command's (options/train.ts declares both); this file turns them into a run's settings.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { parseClassesFlag, type ClassDescription } from '../data/classes.js';
import { resolveClasses, runTraining, type RunResult, type TrainObserver } from '../train/run.js';
import { DEFAULT_TRAIN, type TrainConfig } from '../train/config.js';
import type { EpochRecord } from '../train/loop.js';
import { checkTrainingDevice, type Device } from '../engine/device.js';
import type { GapLoss } from '../losses/trainingLoss.js';
import type { RefineCheck } from '../predict/refineCheck.js';
import { reportObserver } from '../report/runReport.js';
import { netKind, type NetConfig } from '../nets/index.js';
import { modelDirOf, readModelMeta } from '../formats/modelFolder.js';
import { readRunConfig } from '../train/runConfig.js';
import { checkValues, flagOf, type OptionValues } from '../options/schema.js';
import { TRAIN_COMMAND, type TRAIN_OPTIONS } from '../options/train.js';
import type { ApiKeys, Same } from '../options/keys.js';
import { startEngine } from './engine.js';
import { progressCallbacks, type ProgressEvent } from './progress.js';
import { mobileNetV2WeightsFile } from './weights.js';

/** How to train: each option is the `gapseg train` flag of the same name in camelCase (see `gapseg train --help`). */
export interface TrainOptions {
  /** The run folder to create (model, checkpoints, history, report). */
  out: string;
  /** Classes as "0=background,255=smoke" (value=name pairs, or names for 0..n-1), or a description; default: gapseg.json or codes.txt beside the data. */
  classes?: string | ClassDescription;
  /** With a classes string: label values or class names that mean unlabelled. */
  void?: (string | number)[];
  /** A codes.txt or gapseg.json class description. */
  classFile?: string;
  /** Only full masks: erode every class by this many pixels (at the training scale) and leave the band unlabelled. */
  makeGap?: number;
  /** With makeGap: 0 (default) even bands, up to 1 where their two sides and width differ along a boundary. */
  gapUneven?: number;
  epochs?: number;
  /** Resize images by this factor before training (and predicting). */
  scale?: number;
  /** 'mobilenet_v2' (default): a U-Net decoder on an ImageNet-pretrained MobileNetV2, fine-tuned; 'unet': a U-Net from scratch (depth or width choose it too). */
  encoder?: 'mobilenet_v2' | 'unet';
  /** Continue the run in `out` from its last checkpoint (its own settings are kept). */
  resume?: boolean;
  /** Side of the square training crops, rounded to the network's multiple. */
  crop?: number;
  /** Crops per step. */
  batch?: number;
  lr?: number;
  weightDecay?: number;
  /** Share of crops centred on a pixel of a randomly drawn class, the gap included. */
  classBalance?: number;
  /** Loss weight per class, in class order. */
  classWeights?: number[];
  /** 'softmax' (default): the gap trains one more output in the softmax, left out of the saved model; 'none': the gap adds nothing to the loss. */
  gapLoss?: GapLoss;
  /** Flips, rotations, scaling and colour jitter of the crops (default true). */
  augment?: boolean;
  /** The MobileNetV2 .tflite file (default: gapseg's cache, downloaded there when missing). */
  encoderWeights?: string;
  /** With mobilenet_v2: epochs with the encoder frozen first (default 1). */
  freezeEpochs?: number;
  /** With mobilenet_v2: the encoder's rate is the decoder's divided by this (default 10). */
  encoderLrDiv?: number;
  /** The U-Net's levels. */
  depth?: number;
  /** The U-Net's channels at its first level. */
  width?: number;
  validFraction?: number;
  seed?: number;
  tile?: number;
  /** Start from the weights of this run or model (its network, classes and input recipe; its crop, batch, rate, scale and gap unless given). */
  initFrom?: string;
  /** Train on the images that have a label file, leaving out those that have none yet. */
  skipUnlabelled?: boolean;
  /** Start over in a run folder that already holds a run. */
  force?: boolean;
  maxPixels?: number;
  /** 'cpu' (default): gapseg's engine; 'webgpu': TensorFlow.js on the GPU through WebGPU; 'auto': webgpu where a hardware adapter exists, else cpu ('cuda' is ONNX Runtime's, for prediction). */
  device?: Device | 'cuda';
  /** Compute threads (default: all cores, at most 8). */
  threads?: number;
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

/** The API's own keys, beside the options the command shares. */
const CALLBACKS = ['onProgress', 'onEpoch', 'log'] as const;
// The options and the interface cannot drift apart: a key in one and not the other fails to compile.
const sameKeys: Same<Exclude<keyof TrainOptions, (typeof CALLBACKS)[number]>, ApiKeys<typeof TRAIN_OPTIONS>> = true;
void sameKeys;

/** What a finished (or paused) training gives back. */
export interface TrainResult {
  /** The run folder. */
  dir: string;
  /** The kept model's folder (best validation mean IoU), to open with openModel. */
  modelDir: string;
  history: EpochRecord[];
  /** The epoch of the kept model. */
  bestEpoch: number | null;
  seconds: number;
  /** Whether refine 'auto' refines this model's predictions, and the validation accuracies behind it (null: no validation images). */
  refineCheck: RefineCheck | null;
}

/** Check the options as `gapseg train` checks its flags (a class description object is the API's own). */
function checkOptions(o: TrainOptions): void {
  const { classes, ...rest } = o;
  checkValues(TRAIN_COMMAND, { ...rest, ...(typeof classes === 'string' ? { classes } : {}) } as OptionValues, CALLBACKS);
  if (classes !== undefined && typeof classes !== 'string' && !(typeof classes === 'object' && Array.isArray(classes.classes))) {
    throw new GapsegError('classes must be a "value=name,..." string or a class description', 2);
  }
}

/** The class description the options name, or null to look beside the data. */
function classesOf(o: TrainOptions): { classes: ClassDescription | null; file: string | null } {
  if (o.classes !== undefined && o.classFile !== undefined) throw new GapsegError('give either --classes or --class-file, not both', 2);
  if (typeof o.classes === 'string') return { classes: parseClassesFlag(o.classes, (o.void ?? []).map(String)), file: null };
  if ((o.void ?? []).length > 0) {
    throw new GapsegError(
      '--void goes with --classes; in a class file, name void values there ("void" in codes.txt, "void": [...] in gapseg.json)',
      2,
    );
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

/** The model a run starts from (--init-from): its folder and what it holds. */
function startModel(from: string): { dir: string; net: NetConfig; classes: ClassDescription } {
  const dir = path.resolve(modelDirOf(from));
  const meta = readModelMeta(dir);
  return { dir, net: meta.net, classes: meta.classes };
}

/**
 * The defaults of a run started from another (its config.json beside or above the model): the
 * same crop, batch, rate, scale, gap and tile, so that a few more epochs continue its recipe.
 */
function initFromDefaults(from: string): Partial<TrainOptions> {
  const dir = path.resolve(modelDirOf(from));
  const file = [path.join(dir, 'config.json'), path.join(dir, '..', 'config.json')].find((f) => fs.existsSync(f));
  if (!file) return {};
  const c = readRunConfig(file);
  return {
    crop: c.crop,
    batch: c.batch,
    lr: c.lr,
    weightDecay: c.weightDecay,
    scale: c.scale,
    makeGap: c.makeGap,
    ...(c.gapUneven ? { gapUneven: c.gapUneven } : {}),
    tile: c.tile,
  };
}

/** The settings a run started from `from` takes from it: its network (network options must agree); its classes, which the data set's must equal. */
function initFromSettings(from: string, o: TrainOptions, classes: ClassDescription): Partial<TrainConfig> {
  const m = startModel(from);
  const unet = netKind(m.net) === 'unet';
  const has = {
    encoder: unet ? 'unet' : 'mobilenet_v2',
    depth: unet ? (m.net as { depth: number }).depth : undefined,
    width: unet ? (m.net as { baseWidth: number }).baseWidth : undefined,
  };
  for (const k of ['encoder', 'depth', 'width'] as const) {
    if (o[k] !== undefined && o[k] !== has[k])
      throw new GapsegError(`--init-from ${from} trains its own network (${k} ${has[k] ?? 'none'}); --${k} ${o[k]} differs`, 2);
  }
  const same = (a: ClassDescription) => JSON.stringify(a.classes.map((c) => [c.name, c.value]));
  if (same(m.classes) !== same(classes)) {
    throw new GapsegError(
      `--init-from ${from}: its classes (${m.classes.classes.map((c) => `${c.value}=${c.name}`).join(', ')}) differ from the data set's (${classes.classes.map((c) => `${c.value}=${c.name}`).join(', ')})`,
      2,
    );
  }
  if (unet) return { initFrom: m.dir, depth: has.depth, width: has.width };
  return { initFrom: m.dir, decoderWidths: (m.net as { decoderWidths: number[] }).decoderWidths };
}

/** The run's full settings from the options (checked as `gapseg train` checks its flags); `note` hears what was adjusted. */
export function trainConfig(dataset: string, options: TrainOptions, note: (line: string) => void = () => undefined): TrainConfig {
  checkOptions(options);
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as TrainOptions;
  const o: TrainOptions = options.initFrom !== undefined ? { ...initFromDefaults(options.initFrom), ...given } : given;
  const d = DEFAULT_TRAIN;
  const encoder = chooseEncoder(o);
  const mobile = encoder === 'mobilenet_v2';
  if (!mobile) {
    const stray = (['encoderWeights', 'freezeEpochs', 'encoderLrDiv'] as const).find((k) => o[k] !== undefined);
    if (stray) throw new GapsegError(`${flagOf(stray)} goes with --encoder mobilenet_v2`, 2);
  }
  const named = classesOf(o);
  const { classes, source } = resolveClasses(path.resolve(dataset), named.classes, named.file);
  const weights = o.classWeights ?? [];
  if (weights.length > 0 && weights.length !== classes.classes.length) {
    throw new GapsegError(
      `--class-weights needs ${classes.classes.length} numbers, one per class (${classes.classes.map((c) => c.name).join(', ')})`,
      2,
    );
  }
  const from = o.initFrom !== undefined ? initFromSettings(o.initFrom, o, classes) : {};
  const depth = from.depth ?? o.depth ?? d.depth;
  const crop = mobile
    ? roundCrop(o.crop ?? d.crop, 32, "the MobileNetV2 encoder's deepest features are at stride 32", note)
    : roundCrop(o.crop ?? d.crop, 2 ** depth, `2^depth, so that the U-Net's ${depth} levels line up`, note);
  const { fineTune, ...base } = d;
  return {
    ...base,
    dataset: path.resolve(dataset),
    classSource: source,
    classes,
    scale: o.scale ?? d.scale,
    makeGap: o.makeGap ?? d.makeGap,
    ...(o.gapUneven ? { gapUneven: o.gapUneven } : {}),
    crop,
    batch: o.batch ?? d.batch,
    epochs: o.epochs ?? d.epochs,
    lr: o.lr ?? d.lr,
    weightDecay: o.weightDecay ?? d.weightDecay,
    classWeights: weights.length ? weights : null,
    depth,
    width: o.width ?? d.width,
    ...(mobile
      ? {
          encoder,
          encoderWeights: o.encoderWeights,
          fineTune: { freezeEpochs: o.freezeEpochs ?? fineTune.freezeEpochs, encoderLrDiv: o.encoderLrDiv ?? fineTune.encoderLrDiv },
        }
      : { encoder }),
    validFraction: o.validFraction ?? d.validFraction,
    seed: o.seed ?? d.seed,
    tile: o.tile ?? d.tile,
    augment: {
      ...(o.augment === false ? { scaleRange: [1, 1] as [number, number], flipRotate: false, brightness: 0, contrast: 0 } : d.augment),
      classBalance: o.classBalance ?? d.augment.classBalance,
    },
    gapLoss: o.gapLoss ?? d.gapLoss,
    ...(o.maxPixels !== undefined ? { maxPixels: o.maxPixels } : {}),
    ...(o.skipUnlabelled ? { skipUnlabelled: true } : {}),
    ...from,
  };
}

/** Train (or, with resume, continue training) a model on a data set; returns when the run has finished or paused. */
export async function train(dataset: string, options: TrainOptions): Promise<TrainResult> {
  const log = options.log ?? (() => undefined);
  checkOptions(options);
  checkTrainingDevice(options.device);
  if (!options.out) throw new GapsegError('--out <run-dir> is required (the run folder to create)', 2);
  const out = path.resolve(options.out);
  // With resume the run keeps its own settings: only the data set is checked against them.
  const config = options.resume ? null : trainConfig(dataset, options, log);
  if (config?.encoder === 'mobilenet_v2' && !config.initFrom)
    config.encoderWeights = await mobileNetV2WeightsFile(options.encoderWeights, log, progressCallbacks(options.onProgress));
  await startEngine(options.threads, log, options.device);
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
  return {
    dir: r.runDir,
    modelDir: path.join(r.runDir, 'model'),
    history: r.history,
    bestEpoch: r.bestEpoch,
    seconds: r.seconds,
    refineCheck: r.refineCheck,
  };
}
