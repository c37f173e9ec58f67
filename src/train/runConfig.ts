/**
 * Reading back what a run folder holds for --resume, with checks: config.json must describe a
 * run gapseg can continue, and checkpoint.bin must hold the tensors of that run's network and
 * optimiser. A hand-edited or damaged file is a user error naming it, never a crash later on.
 */
import { GapsegError } from '../util/errors.js';
import { readTextFile } from '../util/files.js';
import { validateClasses, type ClassDescription } from '../data/classes.js';
import { GAP_LOSSES, type GapLoss } from '../losses/trainingLoss.js';
import { keyOf, optionOf, problemOf } from '../options/schema.js';
import { TRAIN_COMMAND } from '../options/train.js';
import { isStat, netSpecs, type NetConfig } from '../nets/index.js';
import type { LoadedCheckpoint } from './checkpoint.js';
import type { TrainConfig } from './config.js';

type Check = (v: unknown) => boolean;

const int =
  (lo: number, hi: number): Check =>
  (v) =>
    Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
const num =
  (lo: number, hi: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;

/** The settings of a run that are train options, checked against the options' own ranges. */
const OPTION_FIELDS = [
  'scale',
  'make-gap',
  'crop',
  'batch',
  'epochs',
  'lr',
  'weight-decay',
  'depth',
  'width',
  'valid-fraction',
  'seed',
  'tile',
];

/** Names of settings in run folders written before they took their option's name. */
const RENAMED: Record<string, string> = { batchSize: 'batch', baseWidth: 'width' };

/**
 * The gap loss of a stored run: one of GAP_LOSSES. Runs from before the choice was a word stored
 * null (nothing on the gap) or the band-in-the-softmax object that became 'softmax'; the other
 * experimental losses are gone, and such a run cannot be resumed.
 */
function gapLossOf(v: unknown, file: string, bad: (what: string) => never): GapLoss {
  if (v === null || v === undefined) return 'none';
  if (typeof v === 'string' && (GAP_LOSSES as readonly string[]).includes(v)) return v as GapLoss;
  const old = (typeof v === 'object' ? v : {}) as Record<string, unknown>;
  if (old.kind === 'band' && old.softmax === true && old.weight === 1) return 'softmax';
  if (typeof old.kind === 'string')
    throw new GapsegError(`${file}: this run trained with the gap loss "${old.kind}", which gapseg no longer has; start over with --force`);
  return bad(`"gapLoss" must be ${GAP_LOSSES.map((g) => `"${g}"`).join(' or ')}, not ${JSON.stringify(v)}`);
}

/** Read and check a run's config.json. */
export function readRunConfig(file: string): TrainConfig {
  const text = readTextFile(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new GapsegError(`${file}: not valid JSON (${(e as Error).message}); the run folder is damaged, start over with --force`);
  }
  const bad = (what: string): never => {
    throw new GapsegError(`${file}: ${what}; the run folder is damaged, start over with --force`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad('not a run configuration (expected a JSON object)');
  const cfg = json as Record<string, unknown>;
  for (const [old, now] of Object.entries(RENAMED)) if (old in cfg && !(now in cfg)) cfg[now] = cfg[old];
  if (typeof cfg.dataset !== 'string' || cfg.dataset === '') bad('"dataset" is missing');
  const option = (name: string, value: unknown) => {
    const problem = problemOf(optionOf(TRAIN_COMMAND, name), value);
    if (problem) bad(`"${keyOf(name)}" must be ${problem}, not ${JSON.stringify(value)}`);
  };
  for (const name of OPTION_FIELDS) option(name, cfg[keyOf(name)]);
  if (cfg.encoder !== undefined && cfg.encoder !== 'unet' && cfg.encoder !== 'mobilenet_v2')
    bad('"encoder" must be "unet" or "mobilenet_v2"');
  const multiple = cfg.encoder === 'mobilenet_v2' ? 32 : 2 ** (cfg.depth as number);
  if ((cfg.crop as number) % multiple !== 0) bad(`"crop" must be a multiple of ${cfg.encoder === 'mobilenet_v2' ? '32' : '2^depth'}`);
  if (cfg.encoder === 'mobilenet_v2') {
    // A run that starts from another model's weights needs no ImageNet file.
    if (cfg.initFrom === undefined && (typeof cfg.encoderWeights !== 'string' || cfg.encoderWeights === ''))
      bad('"encoderWeights" must name the MobileNetV2 weights file');
    const dw = cfg.decoderWidths;
    if (dw !== undefined && !(Array.isArray(dw) && dw.length === 5 && dw.every(int(1, 1024))))
      bad('"decoderWidths" must be five integers in 1..1024');
    const ft = cfg.fineTune as Record<string, unknown> | undefined;
    if (ft !== undefined && (typeof ft !== 'object' || ft === null)) bad('"fineTune" must hold freezeEpochs and encoderLrDiv');
    if (ft !== undefined) for (const name of ['freeze-epochs', 'encoder-lr-div']) option(name, ft[keyOf(name)]);
  }
  if (cfg.initFrom !== undefined && (typeof cfg.initFrom !== 'string' || cfg.initFrom === '')) bad('"initFrom" must name a model folder');
  if (cfg.skipUnlabelled !== undefined && typeof cfg.skipUnlabelled !== 'boolean') bad('"skipUnlabelled" must be true or false');
  const classes = cfg.classes as ClassDescription | undefined;
  if (!classes || !Array.isArray(classes.classes) || !Array.isArray(classes.voidValues))
    bad('"classes" must hold "classes" and "voidValues" lists');
  validateClasses(classes as ClassDescription, file);
  const k = (classes as ClassDescription).classes.length;
  const weights = cfg.classWeights;
  if (
    weights !== null &&
    weights !== undefined &&
    !(Array.isArray(weights) && weights.length === k && weights.every(num(0, Number.MAX_VALUE)))
  ) {
    bad(`"classWeights" must be null or ${k} non-negative numbers`);
  }
  const aug = cfg.augment as Record<string, unknown> | undefined;
  const range = aug?.scaleRange;
  if (
    !aug ||
    !Array.isArray(range) ||
    range.length !== 2 ||
    !range.every(num(0.01, 100)) ||
    typeof aug.flipRotate !== 'boolean' ||
    !num(0, 1)(aug.brightness) ||
    !num(0, 1)(aug.contrast)
  ) {
    bad('"augment" must hold scaleRange [lo, hi], flipRotate, brightness and contrast');
  }
  if ((aug as Record<string, unknown>).classBalance !== undefined) option('class-balance', (aug as Record<string, unknown>).classBalance);
  if (cfg.gapUneven !== undefined) option('gap-uneven', cfg.gapUneven);
  if (cfg.maxPixels !== undefined) option('max-pixels', cfg.maxPixels);
  cfg.gapLoss = gapLossOf(cfg.gapLoss, file, bad);
  return cfg as unknown as TrainConfig;
}

/** Check that a checkpoint holds every tensor of this network and its optimiser, with the right sizes. */
export function checkCheckpointFits(ck: LoadedCheckpoint, ucfg: NetConfig, epochs: number, file: string): void {
  const bad = (what: string): never => {
    throw new GapsegError(`${file}: ${what}; it does not belong to this run's config.json (start over with --force)`);
  };
  for (const s of netSpecs(ucfg)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const names = isStat(s) ? [`stat:${s.name}`] : [`param:${s.name}`, `adam_m:${s.name}`, `adam_v:${s.name}`];
    for (const name of names) {
      const v = ck.values.get(name);
      if (!v) bad(`no tensor ${name}`);
      else if (v.length !== n) bad(`tensor ${name} has ${v.length} values, the network needs ${n}`);
    }
  }
  const { epoch, adamStep } = ck.state;
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > epochs) bad(`epoch ${epoch} is not in 0..${epochs}`);
  if (!Number.isInteger(adamStep) || adamStep < 0) bad(`optimiser step ${adamStep} is not a count`);
}
