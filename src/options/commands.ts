/** The options of `gapseg export`, `gapseg view` and `gapseg demo` (and of the API's exportModel() and view()). */
import { CLASSES, CLASS_FILE, DEVICE, MAX_PIXELS, QUIET, THREADS, VOID } from './common.js';
import type { CommandSchema, OptionDef } from './schema.js';

/** The port the viewer tries first. */
export const DEFAULT_VIEW_PORT = 7878;

export const EXPORT_OPTIONS = [
  {
    name: 'out',
    kind: 'string',
    placeholder: 'file',
    help: 'where to write the .onnx file (default: <model>/model.onnx, which predict then uses)',
    basic: true,
  },
  THREADS,
] as const satisfies readonly OptionDef[];

export const EXPORT_COMMAND: CommandSchema = {
  name: 'export',
  summary: 'export a model to ONNX (checked against TensorFlow.js)',
  usage: 'gapseg export <run-or-model-dir> [--out file.onnx]',
  description:
    'Writes model.onnx into the model folder (or --out): opset 17, NCHW input "image" with free batch and sides, output "logits", batch norm folded into the convolutions, the class description and input recipe in its metadata. It is put in place only after ONNX Runtime reproduces the TensorFlow.js logits on a test image. gapseg predict then uses it.',
  positional: { min: 1, max: 1, names: 'a run or model folder' },
  options: EXPORT_OPTIONS,
  examples: ['gapseg export runs/smoke', 'gapseg export runs/smoke --out smoke.onnx'],
};

export const VIEW_OPTIONS = [
  {
    name: 'model',
    kind: 'string',
    placeholder: 'dir',
    help: 'a run or model folder to predict with (default: one found in the folder)',
    basic: true,
  },
  {
    ...CLASSES,
    help: 'classes to paint with where the folder has none, void included, e.g. "0=background,255=smoke,128=void"',
    basic: true,
  },
  VOID,
  CLASS_FILE,
  {
    name: 'port',
    kind: 'int',
    min: 0,
    max: 65535,
    placeholder: 'n',
    help: `port to listen on; 0 = any free port (default ${DEFAULT_VIEW_PORT}, or any free port when that one is taken)`,
  },
  {
    name: 'host',
    kind: 'string',
    placeholder: 'addr',
    help: 'address to listen on (other machines can connect if not loopback)',
    default: '127.0.0.1',
  },
  {
    name: 'max-upload',
    kind: 'number',
    min: 0.001,
    max: 4096,
    placeholder: 'MB',
    help: 'largest image the page may upload for decoding',
    default: 32,
  },
  {
    name: 'train-args',
    kind: 'string',
    placeholder: '"flags"',
    help: 'gapseg train flags for training from the page, e.g. "--crop 128 --batch 2"',
  },
  {
    ...DEVICE,
    help: 'where the live model and training from the page compute: cpu, webgpu, or auto (webgpu where a hardware GPU adapter exists)',
  },
  MAX_PIXELS,
] as const satisfies readonly OptionDef[];

export const VIEW_COMMAND: CommandSchema = {
  name: 'view',
  summary: 'browse and label a data set, a run or predictions in a local web page',
  usage: 'gapseg view <folder> [options]',
  description: [
    'Serves a page on this machine (127.0.0.1 unless --host says otherwise) showing the images of the folder and of its direct sub-folders (a data set, gapseg predict output, a run): label, void, prediction, frontier and probability overlays; per-image metrics, sortable to find the worst images.',
    "With a model (found in the folder or named by --model) the page predicts in the browser, as gapseg predict --refine auto does. Labels can be painted and saved in the data set's own format, and the page can train on them (gapseg train in a child process; each round is a run folder view-run-<n>).",
    "Only files under the folder (and the model's) are served, and only label and image files of the data set are written.",
  ].join('\n'),
  positional: { min: 1, max: 1, names: 'a folder to view' },
  options: VIEW_OPTIONS,
  examples: [
    'gapseg view demo-out',
    'gapseg view data/smoke --model runs/smoke',
    'gapseg view photos --classes "0=background,255=smoke,128=void"',
  ],
};

export const DEMO_COMMAND: CommandSchema = {
  name: 'demo',
  summary: 'train and predict on the built-in sample (smoke-like blobs with gap labels)',
  usage: 'gapseg demo [--out demo-out] [options]',
  description:
    'Generates the sample data set (images/, labels/ with 128 = void between "surely smoke" and "surely not smoke", truth/ with the full masks), trains a small U-Net on it, predicts the held-out test images (--refine auto) and evaluates them, including accuracy inside the unlabelled gap.',
  positional: { min: 0, max: 0, names: 'no arguments' },
  options: [
    {
      name: 'out',
      kind: 'string',
      placeholder: 'dir',
      help: 'folder for data, run, predictions and report',
      default: 'demo-out',
      basic: true,
    },
    { name: 'images', kind: 'int', min: 2, max: 100000, placeholder: 'n', help: 'training images to generate', default: 96 },
    { name: 'epochs', kind: 'int', min: 1, max: 100000, placeholder: 'n', help: 'training epochs', default: 16 },
    {
      name: 'seed',
      kind: 'int',
      min: -Number.MAX_SAFE_INTEGER,
      max: Number.MAX_SAFE_INTEGER,
      placeholder: 'n',
      help: 'seed of the sample and the training',
      default: 7,
    },
    THREADS,
    QUIET,
  ],
  examples: ['npx gapseg demo', 'npx gapseg demo --out /tmp/demo --epochs 5'],
};
