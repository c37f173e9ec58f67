/** `gapseg train`: train a U-Net on a data set with gaps. */
import path from 'node:path';
import type { CommandSpec, Parsed } from './args.js';
import { flag, list, num, str } from './args.js';
import { CLASS_OPTIONS, MAX_PIXELS_OPTION, THREADS_OPTION, given, log } from './common.js';
import { progressBars } from './progress.js';
import { train, type TrainOptions } from '../api/train.js';
import { DEFAULT_TRAIN } from '../train/run.js';
import { GapsegError } from '../util/errors.js';
import { GAP_LOSSES } from '../losses/trainingLoss.js';
import { DEFAULT_FINE_TUNE } from '../train/loop.js';

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
    { name: 'gap-uneven', type: 'number', placeholder: 'u', help: 'with --make-gap: 0 = symmetric bands; up to 1 = the two sides and the width along a boundary differ, per image', default: 0 },
    { name: 'scale', type: 'number', placeholder: 'f', help: 'resize images by this factor before training', default: DEFAULT_TRAIN.scale },
    { name: 'crop', type: 'int', placeholder: 'px', help: 'side of the square training crops', default: DEFAULT_TRAIN.crop },
    { name: 'batch', type: 'int', placeholder: 'n', help: 'crops per step', default: DEFAULT_TRAIN.batchSize },
    { name: 'epochs', type: 'int', placeholder: 'n', help: 'passes over the training images', default: DEFAULT_TRAIN.epochs },
    { name: 'lr', type: 'number', placeholder: 'rate', help: 'peak learning rate of the one-cycle schedule', default: DEFAULT_TRAIN.lr },
    { name: 'weight-decay', type: 'number', placeholder: 'w', help: 'decoupled weight decay (AdamW)', default: DEFAULT_TRAIN.weightDecay },
    { name: 'class-weights', type: 'list', placeholder: 'w,w,...', help: 'loss weight per class, in class order' },
    { name: 'encoder', type: 'string', placeholder: 'mobilenet_v2|unet', help: 'mobilenet_v2: a U-Net decoder on an ImageNet MobileNetV2, fine-tuned (its weights are downloaded once); unet: a U-Net trained from scratch (--depth or --width choose it too)', default: 'mobilenet_v2' },
    { name: 'encoder-weights', type: 'string', placeholder: 'file', help: 'with mobilenet_v2: its .tflite weights (default: gapseg\'s cache, downloaded once)' },
    { name: 'freeze-epochs', type: 'int', placeholder: 'n', help: `with mobilenet_v2: epochs with the encoder frozen first (default ${DEFAULT_FINE_TUNE.freezeEpochs})` },
    { name: 'encoder-lr-div', type: 'number', placeholder: 'd', help: `with mobilenet_v2: the encoder learns at the rate divided by d (default ${DEFAULT_FINE_TUNE.encoderLrDiv})` },
    { name: 'depth', type: 'int', placeholder: 'n', help: `U-Net levels (down-samplings; default ${DEFAULT_TRAIN.depth})` },
    { name: 'width', type: 'int', placeholder: 'n', help: `the U-Net's channels at its first level, doubling per level (default ${DEFAULT_TRAIN.baseWidth})` },
    { name: 'valid-fraction', type: 'number', placeholder: 'f', help: 'share held out for validation when the data set has no split', default: DEFAULT_TRAIN.validFraction },
    { name: 'seed', type: 'int', placeholder: 'n', help: 'seed of every random choice', default: DEFAULT_TRAIN.seed },
    { name: 'tile', type: 'int', placeholder: 'px', help: 'largest side predicted in one piece; larger images are tiled', default: DEFAULT_TRAIN.tile },
    MAX_PIXELS_OPTION,
    { name: 'no-augment', type: 'boolean', help: 'no flips, rotations, scaling or colour jitter' },
    { name: 'class-balance', type: 'number', placeholder: 'p', help: 'share of crops centred on a pixel of a randomly drawn class, the gap included (finds small, rare objects)', default: DEFAULT_TRAIN.augment.classBalance },
    { name: 'gap-loss', type: 'string', placeholder: GAP_LOSSES.join('|'), help: 'softmax: the gap trains one more output in the softmax, left out of the saved model (the void-as-a-class loss, never predicted); none: the gap adds nothing to the loss', default: DEFAULT_TRAIN.gapLoss },
    THREADS_OPTION,
    { name: 'init-from', type: 'string', placeholder: 'dir', help: 'start from the weights of this run or model (its network, classes, normalisation): refine it with more labels' },
    { name: 'skip-unlabelled', type: 'boolean', help: 'train on the images that have a label file, leaving out those that have none yet' },
    { name: 'resume', type: 'boolean', help: 'continue the run in --out from its last checkpoint' },
    { name: 'force', type: 'boolean', help: 'start over in a run folder that already holds a run' },
    { name: 'quiet', type: 'boolean', help: 'no progress bars' },
  ],
  examples: [
    'gapseg train data/smoke --out runs/smoke --classes "0=background,255=smoke" --make-gap 4 --scale 0.5',
    'gapseg train data/sky --out runs/sky --class-file codes.txt --epochs 30 --crop 128',
    'gapseg train data/smoke --out runs/smoke --resume',
    'gapseg train data/smoke --out runs/smoke-2 --init-from runs/smoke --skip-unlabelled --epochs 3',
    'gapseg train data/smoke --out runs/smoke-mnv2 --encoder mobilenet_v2 --make-gap 4 --crop 256',
  ],
};

/** Run the train command: its flags are the API's train options. */
export async function trainCommand(p: Parsed): Promise<number> {
  const out = str(p, 'out');
  if (!out) throw new GapsegError('--out <run-dir> is required (see: gapseg train --help)', 2);
  const gapLoss = str(p, 'gap-loss') as TrainOptions['gapLoss'];
  const result = await train(p.positional[0], {
    out,
    classes: str(p, 'classes'),
    void: list(p, 'void'),
    classFile: str(p, 'class-file'),
    makeGap: given(p, 'make-gap'),
    gapUneven: num(p, 'gap-uneven'),
    scale: given(p, 'scale'),
    crop: given(p, 'crop'),
    batch: given(p, 'batch'),
    epochs: num(p, 'epochs'),
    lr: given(p, 'lr'),
    weightDecay: given(p, 'weight-decay'),
    classWeights: list(p, 'class-weights').map(Number),
    encoder: p.given.has('encoder') ? (str(p, 'encoder') as TrainOptions['encoder']) : undefined,
    encoderWeights: str(p, 'encoder-weights'),
    freezeEpochs: given(p, 'freeze-epochs'),
    encoderLrDiv: given(p, 'encoder-lr-div'),
    depth: given(p, 'depth'),
    width: given(p, 'width'),
    validFraction: num(p, 'valid-fraction'),
    seed: num(p, 'seed'),
    tile: given(p, 'tile'),
    maxPixels: given(p, 'max-pixels'),
    augment: !flag(p, 'no-augment'),
    classBalance: num(p, 'class-balance'),
    gapLoss,
    threads: given(p, 'threads'),
    initFrom: str(p, 'init-from'),
    skipUnlabelled: flag(p, 'skip-unlabelled') || undefined,
    resume: flag(p, 'resume'),
    force: flag(p, 'force'),
    onProgress: progressBars(flag(p, 'quiet')),
    log,
  });
  const best = result.history.find((r) => r.epoch === result.bestEpoch);
  const why = best?.valid ? `, validation mean IoU ${best.valid.meanIoU.toFixed(3)}` : best ? ', lowest training loss' : '';
  log(`done in ${result.seconds.toFixed(0)}s; kept model: ${path.join(out, 'model')}${best ? ` (epoch ${best.epoch} of ${result.history.length}${why})` : ''}`);
  return 0;
}
