/** `gapseg train`: train a U-Net on a data set with gaps. */
import path from 'node:path';
import type { CommandSpec, Parsed } from './args.js';
import { checkRange, flag, list, num, str } from './args.js';
import { CLASS_OPTIONS, MAX_PIXELS_OPTION, THREADS_OPTION, classesFromFlags, limitsFromFlags, log, startEngine } from './common.js';
import { DEFAULT_TRAIN, resolveClasses, runTraining, type TrainConfig } from '../train/run.js';
import { GapsegError } from '../util/errors.js';
import { DEFAULT_CRF, type GapLossConfig } from '../losses/gapLoss.js';

const CRF_OPTIONS = ['crf-weight', 'crf-radius', 'crf-sigma-xy', 'crf-sigma-rgb'];

export const trainSpec: CommandSpec = {
  name: 'train',
  summary: 'train a segmentation model from labels with unlabelled gaps',
  usage: 'gapseg train <dataset> --out <run-dir> [options]',
  description:
    'The data set is a folder with images/ + labels/ (or SegNet-style train/ + trainannot/), paired by\n' +
    'base name; any image format, with or without extension. Classes come from gapseg.json or codes.txt\n' +
    'beside the data, or from --classes. Void (unlabelled) pixels count for nothing: the model has one\n' +
    'output per real class, and the loss is the mean over labelled pixels only.',
  positional: { min: 1, max: 1, names: 'a data set folder' },
  options: [
    { name: 'out', type: 'string', placeholder: 'dir', help: 'run folder to create (checkpoints, model, history)' },
    ...CLASS_OPTIONS,
    { name: 'make-gap', type: 'int', placeholder: 'px', help: 'erode every class by px pixels (at training scale), the band becomes void', default: 0 },
    { name: 'scale', type: 'number', placeholder: 'f', help: 'resize images by this factor before training', default: DEFAULT_TRAIN.scale },
    { name: 'crop', type: 'int', placeholder: 'px', help: 'side of the square training crops', default: DEFAULT_TRAIN.crop },
    { name: 'batch', type: 'int', placeholder: 'n', help: 'crops per step', default: DEFAULT_TRAIN.batchSize },
    { name: 'epochs', type: 'int', placeholder: 'n', help: 'passes over the training images', default: DEFAULT_TRAIN.epochs },
    { name: 'lr', type: 'number', placeholder: 'rate', help: 'peak learning rate of the one-cycle schedule', default: DEFAULT_TRAIN.lr },
    { name: 'weight-decay', type: 'number', placeholder: 'w', help: 'decoupled weight decay (AdamW)', default: DEFAULT_TRAIN.weightDecay },
    { name: 'class-weights', type: 'list', placeholder: 'w,w,...', help: 'loss weight per class, in class order' },
    { name: 'depth', type: 'int', placeholder: 'n', help: 'U-Net levels (down-samplings)', default: DEFAULT_TRAIN.depth },
    { name: 'width', type: 'int', placeholder: 'n', help: 'channels of the first level (doubling per level)', default: DEFAULT_TRAIN.baseWidth },
    { name: 'valid-fraction', type: 'number', placeholder: 'f', help: 'share held out for validation when the data set has no split', default: DEFAULT_TRAIN.validFraction },
    { name: 'seed', type: 'int', placeholder: 'n', help: 'seed of every random choice', default: DEFAULT_TRAIN.seed },
    { name: 'tile', type: 'int', placeholder: 'px', help: 'largest side predicted in one piece; larger images are tiled', default: DEFAULT_TRAIN.tile },
    MAX_PIXELS_OPTION,
    { name: 'no-augment', type: 'boolean', help: 'no flips, rotations, scaling or colour jitter' },
    { name: 'class-balance', type: 'number', placeholder: 'p', help: 'share of crops centred on a pixel of a randomly drawn class (helps small, rare objects)', default: 0 },
    { name: 'gap-loss', type: 'string', placeholder: 'none|crf', help: 'regularise the unlabelled gap: crf pulls nearby pixels of similar colour to the same class', default: DEFAULT_TRAIN.gapLoss?.kind ?? 'none' },
    { name: 'crf-weight', type: 'number', placeholder: 'w', help: 'weight of the CRF loss (relative to the cross-entropy)', default: DEFAULT_TRAIN.gapLoss?.weight ?? DEFAULT_CRF.weight },
    { name: 'crf-radius', type: 'int', placeholder: 'px', help: 'CRF window radius; time grows with (2r+1)^2', default: DEFAULT_TRAIN.gapLoss?.radius ?? DEFAULT_CRF.radius },
    { name: 'crf-sigma-xy', type: 'number', placeholder: 'px', help: 'CRF spatial kernel width', default: DEFAULT_TRAIN.gapLoss?.sigmaXY ?? DEFAULT_CRF.sigmaXY },
    { name: 'crf-sigma-rgb', type: 'number', placeholder: 's', help: 'CRF colour kernel width, on RGB in 0..1', default: DEFAULT_TRAIN.gapLoss?.sigmaRGB ?? DEFAULT_CRF.sigmaRGB },
    THREADS_OPTION,
    { name: 'resume', type: 'boolean', help: 'continue the run in --out from its last checkpoint' },
    { name: 'force', type: 'boolean', help: 'start over in a run folder that already holds a run' },
    { name: 'quiet', type: 'boolean', help: 'no progress bars' },
  ],
  examples: [
    'gapseg train data/smoke --out runs/smoke --classes "0=background,255=smoke" --make-gap 4 --scale 0.5',
    'gapseg train data/sky --out runs/sky --class-file codes.txt --epochs 30 --crop 128',
    'gapseg train data/smoke --out runs/smoke --resume',
  ],
};

/** The gap loss from --gap-loss and the --crf-* options. */
function gapLossFromFlags(p: Parsed): GapLossConfig | null {
  const kind = str(p, 'gap-loss');
  if (kind !== 'none' && kind !== 'crf') throw new GapsegError(`--gap-loss must be none or crf, got "${kind}"`, 2);
  if (kind === 'none') {
    const stray = CRF_OPTIONS.filter((o) => p.given.has(o));
    if (stray.length) throw new GapsegError(`--${stray[0]} needs --gap-loss crf`, 2);
    return null;
  }
  return { kind, weight: num(p, 'crf-weight'), radius: num(p, 'crf-radius'), sigmaXY: num(p, 'crf-sigma-xy'), sigmaRGB: num(p, 'crf-sigma-rgb') };
}

/** Run the train command. */
export async function trainCommand(p: Parsed): Promise<number> {
  const out = str(p, 'out');
  if (!out) throw new GapsegError('--out <run-dir> is required (see: gapseg train --help)', 2);
  for (const [n, lo, hi] of [
    ['scale', 0.01, 16],
    ['crop', 16, 4096],
    ['batch', 1, 1024],
    ['epochs', 1, 100000],
    ['depth', 1, 8],
    ['width', 1, 512],
    ['valid-fraction', 0, 0.9],
    ['make-gap', 0, 1000],
    ['lr', 1e-8, 10],
    ['weight-decay', 0, 1],
    ['tile', 32, 65536],
    ['class-balance', 0, 1],
    ['crf-weight', 0, 1000],
    ['crf-radius', 1, 32],
    ['crf-sigma-xy', 0.1, 1000],
    ['crf-sigma-rgb', 0.001, 10],
  ] as const) {
    checkRange(p, n, lo, hi);
  }
  const dataset = path.resolve(p.positional[0]);
  const depth = num(p, 'depth');
  if (num(p, 'crop') % 2 ** depth !== 0) {
    throw new GapsegError(`--crop ${num(p, 'crop')} must be a multiple of ${2 ** depth} (2^depth) so the U-Net levels line up`, 2);
  }
  const resume = flag(p, 'resume');
  const gapLoss = gapLossFromFlags(p);
  let config: TrainConfig | null = null;
  if (!resume) {
    const fromFlags = classesFromFlags(p);
    const { classes, source } = resolveClasses(dataset, fromFlags.classes, fromFlags.file);
    const weights = list(p, 'class-weights').map(Number);
    if (weights.length > 0 && (weights.length !== classes.classes.length || weights.some((w) => !(w >= 0)))) {
      throw new GapsegError(`--class-weights needs ${classes.classes.length} non-negative numbers (one per class: ${classes.classes.map((c) => c.name).join(', ')})`, 2);
    }
    config = {
      ...DEFAULT_TRAIN,
      dataset,
      classSource: source,
      classes,
      scale: num(p, 'scale'),
      makeGap: num(p, 'make-gap'),
      crop: num(p, 'crop'),
      batchSize: num(p, 'batch'),
      epochs: num(p, 'epochs'),
      lr: num(p, 'lr'),
      weightDecay: num(p, 'weight-decay'),
      classWeights: weights.length ? weights : null,
      depth,
      baseWidth: num(p, 'width'),
      validFraction: num(p, 'valid-fraction'),
      seed: num(p, 'seed'),
      tile: num(p, 'tile'),
      augment: {
        ...(flag(p, 'no-augment') ? { scaleRange: [1, 1] as [number, number], flipRotate: false, brightness: 0, contrast: 0 } : DEFAULT_TRAIN.augment),
        classBalance: num(p, 'class-balance'),
      },
      gapLoss,
      ...(limitsFromFlags(p) ?? {}),
    };
  }
  await startEngine(p);
  const result = await runTraining(path.resolve(out), config, {
    resume,
    force: flag(p, 'force'),
    quiet: flag(p, 'quiet'),
    log,
  });
  const best = result.bestEpoch ? result.history[result.bestEpoch - 1] : null;
  log(`done in ${result.seconds.toFixed(0)}s; best model: ${path.join(out, 'model')}${best ? ` (epoch ${best.epoch})` : ''}`);
  return 0;
}
