/** The options of `gapseg train` and of the API's train(): the few most runs need first. */
import { GAP_LOSSES, DEFAULT_GAP_LOSS } from '../losses/trainingLoss.js';
import { DEFAULT_UNET } from '../nets/unet/unet.js';
import { CLASSES, CLASS_FILE, MAX_PIXELS, QUIET, THREADS, VOID } from './common.js';
import type { CommandSchema, OptionDef } from './schema.js';

export const TRAIN_OPTIONS = [
  { name: 'out', kind: 'string', placeholder: 'dir', help: 'the run folder to create (model, checkpoints, history, report)', basic: true },
  { ...CLASSES, basic: true },
  { ...VOID, basic: true },
  { ...CLASS_FILE, basic: true },
  { name: 'make-gap', kind: 'int', min: 0, max: 1000, placeholder: 'px', help: 'only full masks? erode every class by px pixels (at the training scale) and leave the band unlabelled', default: 0, basic: true },
  { name: 'epochs', kind: 'int', min: 1, max: 100000, placeholder: 'n', help: 'passes over the training images', default: 20, basic: true },
  { name: 'scale', kind: 'number', min: 0.01, max: 16, placeholder: 'f', help: 'resize images by this factor before training (and predicting)', default: 1, basic: true },
  { name: 'encoder', kind: 'choice', choices: ['mobilenet_v2', 'unet'], help: 'mobilenet_v2: a U-Net decoder on an ImageNet MobileNetV2, fine-tuned (weights downloaded once); unet: a U-Net from scratch, as --depth or --width also choose', default: 'mobilenet_v2', basic: true },
  { name: 'resume', kind: 'flag', help: 'continue the run in --out from its last checkpoint', basic: true },
  { name: 'crop', kind: 'int', min: 16, max: 4096, placeholder: 'px', help: "side of the square training crops (rounded to the network's multiple)", default: 256 },
  { name: 'batch', kind: 'int', min: 1, max: 1024, placeholder: 'n', help: 'crops per step', default: 4 },
  { name: 'lr', kind: 'number', min: 1e-8, max: 10, placeholder: 'rate', help: 'peak learning rate of the one-cycle schedule', default: 3e-3 },
  { name: 'weight-decay', kind: 'number', min: 0, max: 1, placeholder: 'w', help: 'decoupled weight decay (AdamW)', default: 1e-4 },
  { name: 'class-balance', kind: 'number', min: 0, max: 1, placeholder: 'p', help: 'share of crops centred on a pixel of a randomly drawn class, the gap included (finds small, rare objects)', default: 0.5 },
  { name: 'class-weights', kind: 'numbers', min: 0, placeholder: 'w,w,...', help: 'loss weight per class, in class order' },
  { name: 'gap-loss', kind: 'choice', choices: GAP_LOSSES, help: 'softmax: the gap trains one more output in the softmax (the void-as-a-class loss), left out of the saved model; none: the gap adds nothing to the loss', default: DEFAULT_GAP_LOSS },
  { name: 'gap-uneven', kind: 'number', min: 0, max: 1, placeholder: 'u', help: 'with --make-gap: 0 = even bands; up to 1 = their two sides and width differ along a boundary', default: 0 },
  { name: 'augment', kind: 'flag', help: 'no flips, rotations, scaling or colour jitter of the crops', default: true },
  { name: 'encoder-weights', kind: 'string', placeholder: 'file', help: "with mobilenet_v2: its .tflite weights (default: gapseg's cache, downloaded once)" },
  { name: 'freeze-epochs', kind: 'int', min: 0, max: 100000, placeholder: 'n', help: 'with mobilenet_v2: epochs with the encoder frozen first', default: 1 },
  { name: 'encoder-lr-div', kind: 'number', min: 1, max: 1e6, placeholder: 'd', help: 'with mobilenet_v2: the encoder learns at the rate divided by d', default: 10 },
  { name: 'depth', kind: 'int', min: 1, max: 8, placeholder: 'n', help: "the U-Net's levels (down-samplings)", default: DEFAULT_UNET.depth },
  { name: 'width', kind: 'int', min: 1, max: 512, placeholder: 'n', help: "the U-Net's channels at its first level, doubling per level", default: DEFAULT_UNET.baseWidth },
  { name: 'valid-fraction', kind: 'number', min: 0, max: 0.9, placeholder: 'f', help: 'share held out for validation when the data set names no split', default: 0.2 },
  { name: 'seed', kind: 'int', min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, placeholder: 'n', help: 'seed of every random choice', default: 1 },
  { name: 'tile', kind: 'int', min: 32, max: 65536, placeholder: 'px', help: 'largest side predicted in one piece; larger images are tiled', default: 512 },
  { name: 'init-from', kind: 'string', placeholder: 'dir', help: 'start from the weights of this run or model (its network, classes and input recipe; its crop, batch, rate, scale and gap unless given)' },
  { name: 'skip-unlabelled', kind: 'flag', help: 'train on the images that have a label file, leaving out those that have none yet' },
  { name: 'force', kind: 'flag', help: 'start over in a run folder that already holds a run' },
  MAX_PIXELS,
  THREADS,
  QUIET,
  { name: 'report', kind: 'flag', help: 'write report.html in the run folder', default: true, apiOnly: true },
  { name: 'stop-after-epochs', kind: 'int', min: 1, max: 100000, help: 'pause after this many epochs in total; the run stays resumable', apiOnly: true },
] as const satisfies readonly OptionDef[];

export const TRAIN_COMMAND: CommandSchema = {
  name: 'train',
  summary: 'train a segmentation model from labels with unlabelled gaps',
  usage: 'gapseg train <dataset> --out <run-dir> [options]',
  description:
    'The data set is a folder with images/ + labels/ (or SegNet-style train/ + trainannot/), paired by base name. Classes come from gapseg.json or codes.txt beside the data, or from --classes. Void (unlabelled) pixels are never a class: the saved model has one output per real class.',
  positional: { min: 1, max: 1, names: 'a data set folder' },
  options: TRAIN_OPTIONS,
  examples: [
    'gapseg train data/smoke --out runs/smoke --classes "0=background,255=smoke" --void 128',
    'gapseg train data/smoke --out runs/smoke --classes "0=background,255=smoke" --make-gap 4',
    'gapseg train data/sky --out runs/sky --epochs 30 --encoder unet',
    'gapseg train data/smoke --out runs/smoke --resume',
    'gapseg train data/smoke --out runs/smoke-2 --init-from runs/smoke --skip-unlabelled --epochs 3',
  ],
};
