/**
 * The options of `gapseg predict` and `gapseg eval`, and of the API's openModel(),
 * model.predict(), model.predictFiles() and model.evaluate(), which those commands call.
 */
import { DEFAULT_BF_TOLERANCE, DEFAULT_BIOU_DILATION } from '../metrics/boundary.js';
import { CLASSES, CLASS_FILE, CRF, DEVICE, FLIPS, FORBID, MAX_PIXELS, QUIET, REFINE, THREADS, VOID } from './common.js';
import type { CommandSchema, OptionDef } from './schema.js';

/** openModel(): the engine, and what a foreign ONNX model needs said about it. */
export const OPEN_OPTIONS = [
  {
    name: 'engine',
    kind: 'choice',
    choices: ['auto', 'onnx', 'tfjs'],
    help: 'auto: ONNX Runtime for .onnx files and model folders with a current model.onnx, else TensorFlow.js',
    default: 'auto',
  },
  DEVICE,
  { name: 'batch', kind: 'int', min: 1, max: 64, placeholder: 'n', help: 'windows per network call', default: 4 },
  {
    name: 'tile',
    kind: 'int',
    min: 16,
    placeholder: 'px',
    help: "largest side predicted in one window (default: the model's); larger images are tiled",
  },
  {
    name: 'size',
    kind: 'numbers',
    count: 2,
    min: 1,
    placeholder: 'WxH',
    help: "foreign models: fixed network input size (default: the model's own, if fixed)",
  },
  { name: 'pad', kind: 'flag', help: 'foreign models with a fixed input size: pad and tile instead of resizing' },
  {
    name: 'channels',
    kind: 'string',
    placeholder: 'spec',
    help: 'foreign models: the output channels in order, e.g. "background,smoke,void"',
  },
  {
    name: 'void-channels',
    kind: 'list',
    placeholder: 'name',
    help: 'foreign models, with --channels: channels that are void (a channel named void is)',
  },
  {
    name: 'channel-file',
    kind: 'string',
    placeholder: 'file',
    help: 'foreign models: a codes.txt or gapseg.json naming the output channels',
  },
  { name: 'layout', kind: 'choice', choices: ['nchw', 'nhwc'], help: 'foreign models: tensor layout (default: read from the model)' },
  {
    name: 'scores',
    kind: 'choice',
    choices: ['logits', 'probabilities'],
    help: 'foreign models: what the output holds (default: found out)',
  },
  {
    name: 'mean',
    kind: 'numbers',
    count: 3,
    placeholder: 'r,g,b',
    help: "foreign models: input mean on the 0..1 scale (default ImageNet's)",
  },
  {
    name: 'std',
    kind: 'numbers',
    count: 3,
    min: 1e-6,
    placeholder: 'r,g,b',
    help: "foreign models: input std on the 0..1 scale (default ImageNet's)",
  },
  THREADS,
] as const satisfies readonly OptionDef[];

const UNCERTAINTY = {
  name: 'uncertainty',
  kind: 'number',
  min: 0,
  max: 1,
  placeholder: 'p',
  help: 'also mark the pixels whose top probability is below p (e.g. 0.9)',
} as const satisfies OptionDef;

/** model.predict(): one image in memory. */
export const PREDICT_OPTIONS = [
  FORBID,
  { name: 'frontier', kind: 'flag', help: "compute the frontier's polygons", default: true },
  UNCERTAINTY,
  REFINE,
  CRF,
  FLIPS,
  MAX_PIXELS,
] as const satisfies readonly OptionDef[];

/** model.predictFiles(): a folder of outputs. */
export const PREDICT_FILES_OPTIONS = [
  { name: 'out', kind: 'string', placeholder: 'dir', help: 'output folder', basic: true },
  FORBID,
  REFINE,
  { name: 'frontier', kind: 'flag', help: 'also write the class boundaries as SVG and GeoJSON polygons', basic: true },
  { ...UNCERTAINTY, help: 'also write the pixels whose top probability is below p (e.g. 0.9)', basic: true },
  CRF,
  FLIPS,
  {
    name: 'prob-classes',
    kind: 'list',
    placeholder: 'name',
    help: 'write probability maps for these classes (default: the second of two)',
  },
  { name: 'prob-bits', kind: 'int', choices: [8, 16], placeholder: '8|16', help: 'bit depth of probability PNGs', default: 8 },
  { name: 'npy', kind: 'flag', help: 'also write all class probabilities as .npy (float32 [H, W, K])' },
  { name: 'allow-void', kind: 'flag', help: 'foreign models: let void-named channels be predicted' },
  { name: 'resume', kind: 'flag', help: 'skip images whose outputs are already complete' },
  { name: 'shard', kind: 'string', placeholder: 'i/n', help: 'predict only shard i of n (0 <= i < n), split by image name' },
  { name: 'strict', kind: 'flag', help: 'stop at the first unreadable image instead of skipping it' },
  MAX_PIXELS,
] as const satisfies readonly OptionDef[];

/** model.evaluate(): metrics on a data set. */
export const EVALUATE_OPTIONS = [
  {
    name: 'split',
    kind: 'choice',
    choices: ['auto', 'all', 'train', 'valid', 'test'],
    help: 'auto: the test split if the data set has one, else all',
    default: 'auto',
    basic: true,
  },
  { name: 'truth', kind: 'string', placeholder: 'dir', help: 'folder of full (gap-free) masks, paired by name', basic: true },
  {
    name: 'make-gap',
    kind: 'int',
    min: 0,
    max: 1000,
    placeholder: 'px',
    help: 'erode labels by px pixels and use the full masks as truth',
    default: 0,
    basic: true,
  },
  FORBID,
  REFINE,
  CRF,
  FLIPS,
  {
    name: 'gap-uneven',
    kind: 'number',
    min: 0,
    max: 1,
    placeholder: 'u',
    help: 'with --make-gap: how uneven the gaps are, as train --gap-uneven makes them',
    default: 0,
  },
  { ...CLASSES, help: "the data set's classes, where they differ from the model's description" },
  VOID,
  CLASS_FILE,
  {
    name: 'bf-tolerance',
    kind: 'number',
    min: 0,
    max: 1,
    placeholder: 'share',
    help: 'BF distance tolerance, a share of the image diagonal',
    default: DEFAULT_BF_TOLERANCE,
  },
  {
    name: 'biou-band',
    kind: 'number',
    min: 0,
    max: 1,
    placeholder: 'share',
    help: 'Boundary IoU band width, a share of the image diagonal',
    default: DEFAULT_BIOU_DILATION,
  },
  MAX_PIXELS,
] as const satisfies readonly OptionDef[];

export const PREDICT_COMMAND: CommandSchema = {
  name: 'predict',
  summary: 'predict label masks for images (gapseg models or any ONNX segmentation model)',
  usage: 'gapseg predict <model> <image-or-folder>... --out <dir> [options]',
  description: [
    "Writes, per image, <out>/labels/<name>.png in the data set's own label values, <out>/overlays/<name>.png and probability PNGs (<out>/probs/); with --frontier the class boundaries as sub-pixel polygons (<out>/frontier/<name>.svg and .geojson); with --uncertainty p, <out>/uncertainty/<name>.png marks the pixels whose top probability is below p.",
    "The model is a gapseg run or model folder, its model.onnx, or a foreign ONNX model named by --channels or --channel-file (channels named void are forbidden by default). Forbidden classes are never predicted. Images of any size are predicted at the model's scale, tiled when large. By default (--refine auto) predictions are refined as the model's own check on its validation images says.",
    'Engine: ONNX Runtime for .onnx files and folders with a current model.onnx (gapseg export), TensorFlow.js otherwise. Outputs are written atomically; --resume and --shard i/n share big jobs.',
  ].join('\n'),
  positional: { min: 2, max: Infinity, names: 'a model (run or model folder, or .onnx file) and at least one image or folder' },
  options: [...PREDICT_FILES_OPTIONS, ...OPEN_OPTIONS, QUIET],
  examples: [
    'gapseg predict runs/smoke photos/ --out predictions --frontier',
    'gapseg predict runs/sky img1.jpg img2.jpg --out out --forbid cloud',
    'gapseg predict camvid.onnx frames/ --out out --channel-file codes.txt',
    'gapseg predict runs/sky /data/all --out /data/pred --resume --shard 0/4',
  ],
};

export const EVAL_COMMAND: CommandSchema = {
  name: 'eval',
  summary: 'evaluate a model on a data set (labelled pixels only)',
  usage: 'gapseg eval <model> <dataset> [options]',
  description: [
    'Pixel accuracy over labelled (non-void) pixels, per-class IoU and Dice, mean IoU and the confusion matrix; void pixels never count.',
    'Where a full truth exists (truth/ beside labels/, --truth, or --make-gap), also the accuracy inside the unlabelled gap, boundary F1 (BF) and Boundary IoU. Always: the share of the predicted frontier lying in the gap, and the count of void-valued predictions.',
  ].join('\n'),
  positional: { min: 2, max: 2, names: 'a model (run or model folder, or .onnx file) and a data set folder' },
  options: [
    ...EVALUATE_OPTIONS,
    {
      name: 'json',
      kind: 'string',
      placeholder: 'file',
      help: 'also write the metrics (and per-image rows) as JSON',
      cliOnly: true,
      basic: true,
    },
    DEVICE,
    THREADS,
    QUIET,
  ],
  examples: ['gapseg eval runs/smoke data/smoke', 'gapseg eval runs/sky data/sky --split test --json sky-metrics.json'],
};
