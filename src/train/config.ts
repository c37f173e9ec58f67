/**
 * A run's settings (what config.json holds), their defaults (the train options' own) and the
 * network they describe: what both running a run and reading one back need.
 */
import type { ClassDescription } from '../data/classes.js';
import { DEFAULT_AUGMENT, type AugmentOptions } from '../data/augment.js';
import { DEFAULT_UNET } from '../nets/unet/unet.js';
import { DEFAULT_MOBILE_UNET } from '../nets/mobilenetV2/unet.js';
import type { NetConfig } from '../nets/index.js';
import { trainingLoss, type GapLoss } from '../losses/trainingLoss.js';
import { optionOf } from '../options/schema.js';
import { TRAIN_COMMAND } from '../options/train.js';
import type { FineTune } from './loop.js';

/** Every setting of a run (what config.json holds). */
export interface TrainConfig {
  dataset: string;
  /** Where the class description came from (file path or "--classes"). */
  classSource: string;
  classes: ClassDescription;
  scale: number;
  makeGap: number;
  /** How uneven made gaps are: 0 symmetric, up to 1 (data/gaps.ts). Absent in runs from before it existed. */
  gapUneven?: number;
  crop: number;
  /** Crops per step. */
  batch: number;
  epochs: number;
  lr: number;
  weightDecay: number;
  classWeights: number[] | null;
  /** The network: a U-Net from scratch (absent in runs from before there were two), or a U-Net decoder on a pretrained MobileNetV2. */
  encoder?: 'unet' | 'mobilenet_v2';
  /** The U-Net's levels and first width (unused with a MobileNetV2 encoder). */
  depth: number;
  width: number;
  /** With a MobileNetV2 encoder: the .tflite file its ImageNet weights come from. */
  encoderWeights?: string;
  /** With a MobileNetV2 encoder: the decoder's widths at strides 16 to 1 (default 128-64-48-32-16). */
  decoderWidths?: number[];
  /** With a MobileNetV2 encoder: its fine-tuning (see train/loop.ts). */
  fineTune?: FineTune;
  validFraction: number;
  seed: number;
  tile: number;
  augment: Omit<AugmentOptions, 'size'>;
  maxPixels?: number;
  /** What the loss does with the gap (losses/trainingLoss.ts); null: decided from the training labels when the run starts. */
  gapLoss: GapLoss | null;
  /** A model folder whose weights and input normalisation the run starts from (its network is the run's). */
  initFrom?: string;
  /** Leave out the images that have no label file yet (counted in a note), instead of refusing the data set. */
  skipUnlabelled?: boolean;
}

/** The default of a train option (options/train.ts declares them all). */
const defaultOf = <T>(name: string) => optionOf(TRAIN_COMMAND, name).default as T;

/** A run's settings where no option says otherwise. */
export const DEFAULT_TRAIN: Omit<TrainConfig, 'dataset' | 'classSource' | 'classes'> & Required<Pick<TrainConfig, 'fineTune'>> = {
  scale: defaultOf('scale'),
  makeGap: defaultOf('make-gap'),
  crop: defaultOf('crop'),
  batch: defaultOf('batch'),
  epochs: defaultOf('epochs'),
  lr: defaultOf('lr'),
  weightDecay: defaultOf('weight-decay'),
  classWeights: null,
  depth: defaultOf('depth'),
  width: defaultOf('width'),
  fineTune: { freezeEpochs: defaultOf('freeze-epochs'), encoderLrDiv: defaultOf('encoder-lr-div') },
  validFraction: defaultOf('valid-fraction'),
  seed: defaultOf('seed'),
  tile: defaultOf('tile'),
  augment: { ...DEFAULT_AUGMENT, classBalance: defaultOf('class-balance') },
  gapLoss: null,
};

/** The network a run trains. */
export function netConfigOf(
  cfg: Pick<TrainConfig, 'encoder' | 'depth' | 'width' | 'decoderWidths' | 'classes'> & { gapLoss?: GapLoss | null },
): NetConfig {
  const numClasses = cfg.classes.classes.length;
  const gap = cfg.gapLoss && trainingLoss(cfg.gapLoss).extraOutputs > 0 ? { gapOutput: true } : {};
  if (cfg.encoder === 'mobilenet_v2')
    return { ...DEFAULT_MOBILE_UNET, numClasses, decoderWidths: cfg.decoderWidths ?? DEFAULT_MOBILE_UNET.decoderWidths, ...gap };
  return { ...DEFAULT_UNET, numClasses, depth: cfg.depth, baseWidth: cfg.width, ...gap };
}
