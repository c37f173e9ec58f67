/** `gapseg predict`: label images with a trained model, never predicting forbidden classes. */
import type { CommandSpec, Parsed } from './args.js';
import { flag, list, num, str } from './args.js';
import { MAX_PIXELS_OPTION, REFINE_OPTIONS, THREADS_OPTION, flipsOption, given, log, refineOption } from './common.js';
import { progressBars } from './progress.js';
import { openModel, type OpenModelOptions } from '../api/model.js';
import { GapsegError } from '../util/errors.js';

export const predictSpec: CommandSpec = {
  name: 'predict',
  summary: 'predict label masks for images (gapseg models or any ONNX segmentation model)',
  usage: 'gapseg predict <run-or-model-dir | model.onnx> <image-or-folder>... --out <dir> [options]',
  description:
    'Writes, per image, <out>/labels/<name>.png (in the data set\'s own label values), <out>/overlays/<name>.png\n' +
    '(colours over the image), probability PNGs (<out>/probs/ for the second class of a two-class model, or\n' +
    '<out>/probs-<class>/ for --prob-classes) and, with --npy, <out>/npy/<name>.npy (float32 [H, W, K]).\n' +
    'Images of any size are predicted at the model\'s scale, tiled with blended overlaps when large, and\n' +
    'written at their own size. Forbidden classes are left out of the argmax, so they are never predicted;\n' +
    'probabilities are then over the allowed classes.\n' +
    'With --frontier, also <out>/frontier/<name>.svg and .geojson: the class boundaries as sub-pixel polygons\n' +
    '(pixel coordinates, y down); with --uncertainty <p>, <out>/uncertainty/<name>.png marks (255) pixels whose\n' +
    'top class probability is below p.\n' +
    'With --refine crf, a dense CRF (mean field over position and colour, as DeepLab did) refines each\n' +
    'prediction\'s probabilities before anything is written: labels, probabilities, frontier and band all come\n' +
    'from the refined ones (kernel widths in pixels at the model\'s scale; --crf changes them). With\n' +
    '--flips, the network\'s scores are averaged over the four flips of each window (four times its time).\n' +
    'With --refine auto, each is used as the check gapseg train ran on its validation images says: flips where\n' +
    'they raised the labelled accuracy, the CRF where it kept the labelled pixels right (it says which way it went).\n' +
    '\n' +
    'Engine: ONNX Runtime when given a .onnx file or when the model folder holds a current model.onnx\n' +
    '(see gapseg export), TensorFlow.js otherwise.\n' +
    '\n' +
    'Foreign ONNX models (e.g. a fastai/PyTorch model trained with a void class): name every output channel\n' +
    'in order with --class-file codes.txt (all lines, void included) or --classes. Channels named void (or\n' +
    'unlabelled/ignore) are forbidden by default, since void is never a prediction (--allow-void keeps\n' +
    'them). Layout and logits-or-probabilities are read from the model (override with --layout, --scores);\n' +
    'a fixed input size is read from the model too (images are resized to it, or with --pad, padded and\n' +
    'tiled). Normalisation defaults to ImageNet\'s mean/std.\n' +
    '\n' +
    'Many images: outputs are written atomically; --resume skips images whose outputs are complete;\n' +
    '--shard i/n predicts the images whose name hashes to i of n, so n copies (a Slurm array, a Kubernetes\n' +
    'indexed Job) share the work with no overlap and no gap. An unreadable image is reported and skipped\n' +
    '(exit code 1 at the end), or stops everything with --strict.',
  positional: { min: 2, max: Infinity, names: 'a run or model folder (or a .onnx file) and at least one image or folder' },
  options: [
    { name: 'out', type: 'string', placeholder: 'dir', help: 'output folder' },
    { name: 'forbid', type: 'list', placeholder: 'name', help: 'class names (or label values) never to predict; repeatable or comma-separated' },
    { name: 'allow-void', type: 'boolean', help: 'foreign models: let void-named channels be predicted' },
    { name: 'prob-classes', type: 'list', placeholder: 'name', help: 'write probability maps for these classes' },
    { name: 'prob-bits', type: 'int', placeholder: '8|16', help: 'bit depth of probability PNGs', default: 8 },
    { name: 'npy', type: 'boolean', help: 'also write all class probabilities as .npy (float32 [H, W, K])' },
    { name: 'frontier', type: 'boolean', help: 'write class boundaries as SVG and GeoJSON polygons' },
    { name: 'uncertainty', type: 'number', placeholder: 'p', help: 'write the band of pixels whose top probability is below p (e.g. 0.9)' },
    ...REFINE_OPTIONS,
    { name: 'resume', type: 'boolean', help: 'skip images whose outputs are already complete' },
    { name: 'shard', type: 'string', placeholder: 'i/n', help: 'predict only shard i of n (0 <= i < n), split by image name' },
    MAX_PIXELS_OPTION,
    { name: 'strict', type: 'boolean', help: 'stop at the first unreadable image instead of skipping it' },
    { name: 'engine', type: 'string', placeholder: 'auto|onnx|tfjs', help: 'inference engine', default: 'auto' },
    { name: 'device', type: 'string', placeholder: 'cpu|cuda', help: 'where ONNX Runtime computes (cuda needs its CUDA provider, which its default install downloads)', default: 'cpu' },
    { name: 'batch', type: 'int', placeholder: 'n', help: 'windows per network call', default: 4 },
    { name: 'tile', type: 'int', placeholder: 'px', help: 'largest side predicted in one window (larger images are tiled)' },
    { name: 'size', type: 'string', placeholder: 'WxH', help: 'fixed network input size (default: the model\'s own, if fixed)' },
    { name: 'pad', type: 'boolean', help: 'with a fixed input size: pad and tile instead of resizing (no distortion)' },
    { name: 'classes', type: 'string', placeholder: 'spec', help: 'foreign models: output channels in order, e.g. "background,smoke,void"' },
    { name: 'void', type: 'list', placeholder: 'value|name', help: 'foreign models, with --classes: channels that are void' },
    { name: 'class-file', type: 'string', placeholder: 'file', help: 'foreign models: codes.txt or gapseg.json naming the output channels' },
    { name: 'layout', type: 'string', placeholder: 'nchw|nhwc', help: 'foreign models: tensor layout (default: read from the model)' },
    { name: 'scores', type: 'string', placeholder: 'logits|probabilities', help: 'foreign models: what the output holds (default: found out)' },
    { name: 'mean', type: 'list', placeholder: 'r,g,b', help: 'foreign models: input mean on the 0..1 scale (default ImageNet)' },
    { name: 'std', type: 'list', placeholder: 'r,g,b', help: 'foreign models: input std on the 0..1 scale (default ImageNet)' },
    THREADS_OPTION,
    { name: 'quiet', type: 'boolean', help: 'no progress bar' },
  ],
  examples: [
    'gapseg predict runs/smoke photos/ --out predictions',
    'gapseg predict runs/sky img1.jpg img2.jpg --out out --forbid cloud',
    'gapseg predict camvid.onnx frames/ --out out --class-file codes.txt --forbid void',
    'gapseg predict runs/sky /data/all --out /data/pred --resume --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT',
  ],
};

function triple(p: Parsed, name: string): number[] | undefined {
  const v = list(p, name);
  return v.length === 0 ? undefined : v.map(Number);
}

function parseSize(text: string | undefined): [number, number] | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*(\d+)\s*(?:[x,]\s*(\d+))?\s*$/i.exec(text);
  const w = m ? Number(m[1]) : 0;
  const h = m ? Number(m[2] ?? m[1]) : 0;
  if (!m || w < 1 || h < 1) throw new GapsegError(`--size expects WxH or N (e.g. 480x360), got "${text}"`, 2);
  return [w, h];
}

/** Run the predict command: open the model, predict the files into --out. */
export async function predictCommand(p: Parsed): Promise<number> {
  const out = str(p, 'out');
  if (!out) throw new GapsegError('--out <dir> is required (see: gapseg predict --help)', 2);
  const [modelPath, ...inputs] = p.positional;
  const model = await openModel(modelPath, {
    engine: str(p, 'engine') as OpenModelOptions['engine'],
    device: str(p, 'device') as OpenModelOptions['device'],
    threads: given(p, 'threads'),
    classes: str(p, 'classes'),
    void: list(p, 'void'),
    classFile: str(p, 'class-file'),
    layout: str(p, 'layout') as OpenModelOptions['layout'],
    scores: str(p, 'scores') as OpenModelOptions['scores'],
    mean: triple(p, 'mean'),
    std: triple(p, 'std'),
    size: parseSize(str(p, 'size')),
    pad: flag(p, 'pad') || undefined,
    tile: given(p, 'tile'),
    batch: given(p, 'batch'),
    log,
  });
  try {
    const result = await model.predictFiles(inputs, {
      out,
      forbid: list(p, 'forbid'),
      allowVoid: flag(p, 'allow-void'),
      probClasses: list(p, 'prob-classes'),
      probBits: num(p, 'prob-bits') as 8 | 16,
      npy: flag(p, 'npy'),
      frontier: flag(p, 'frontier'),
      uncertainty: given(p, 'uncertainty'),
      refine: refineOption(p),
      flips: flipsOption(p),
      resume: flag(p, 'resume'),
      shard: str(p, 'shard'),
      strict: flag(p, 'strict'),
      maxPixels: given(p, 'max-pixels'),
      onProgress: progressBars(flag(p, 'quiet')),
      log,
    });
    const parts = [`predicted ${result.predicted} image(s) into ${out} with ${model.engine === 'onnx' ? 'ONNX Runtime' : 'TensorFlow.js'}`];
    if (result.skipped) parts.push(`${result.skipped} already complete`);
    if (result.failed.length) parts.push(`${result.failed.length} failed: ${result.failed.map((f) => f.file).join(', ')}`);
    log(parts.join('; '));
    return result.failed.length ? 1 : 0;
  } finally {
    model.close();
  }
}
