/** Options several commands share, declared once and listed by each command that takes them. */
import { DEFAULT_MAX_PIXELS } from '../data/decode.js';
import { DEFAULT_DENSE_CRF } from '../crf/denseCrf.js';
import type { OptionDef } from './schema.js';

export const CLASSES = {
  name: 'classes',
  kind: 'string',
  placeholder: 'spec',
  help: 'label values and class names, e.g. "0=background,255=smoke" (default: gapseg.json or codes.txt beside the data)',
} as const satisfies OptionDef;
export const VOID = {
  name: 'void',
  kind: 'list',
  placeholder: 'value|name',
  help: 'with --classes: label values or names that mean unlabelled; repeatable',
} as const satisfies OptionDef;
export const CLASS_FILE = {
  name: 'class-file',
  kind: 'string',
  placeholder: 'file',
  help: 'a codes.txt or gapseg.json class description',
} as const satisfies OptionDef;

export const THREADS = {
  name: 'threads',
  kind: 'int',
  min: 1,
  max: 64,
  placeholder: 'n',
  help: 'compute threads (default: all cores; TensorFlow.js uses at most 8)',
} as const satisfies OptionDef;
export const DEVICE = {
  name: 'device',
  kind: 'choice',
  choices: ['cpu', 'webgpu', 'auto', 'cuda'],
  help: "cpu: gapseg's engine on the cores; webgpu: TensorFlow.js on the GPU through WebGPU (the optional package webgpu); auto: webgpu where a hardware GPU adapter exists, else cpu; cuda: ONNX Runtime's CUDA provider (prediction with an ONNX model only)",
  default: 'cpu',
} as const satisfies OptionDef;
export const MAX_PIXELS = {
  name: 'max-pixels',
  kind: 'int',
  min: 1,
  placeholder: 'n',
  help: 'refuse images with more pixels than this, before decoding them',
  default: DEFAULT_MAX_PIXELS,
} as const satisfies OptionDef;
export const QUIET = { name: 'quiet', kind: 'flag', help: 'no progress bars', cliOnly: true } as const satisfies OptionDef;

export const FORBID = {
  name: 'forbid',
  kind: 'list',
  placeholder: 'name',
  help: 'class names (or label values) never to predict; repeatable',
  basic: true,
} as const satisfies OptionDef;
export const REFINE = {
  name: 'refine',
  kind: 'choice',
  choices: ['auto', 'crf', 'none'],
  help: "auto: as the model's check on its validation images says (flip averaging where it raised their accuracy, the dense CRF where it was harmless); crf: always refine with a dense CRF over the image's colours; none: the network alone",
  default: 'auto',
  basic: true,
} as const satisfies OptionDef;
export const CRF = {
  name: 'crf',
  kind: 'settings',
  placeholder: 'key=value',
  help: `with --refine crf: dense CRF settings over the defaults (${Object.entries(DEFAULT_DENSE_CRF)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')})`,
} as const satisfies OptionDef;
export const FLIPS = {
  name: 'flips',
  kind: 'flag',
  help: "average the network over the four flips of each window (4x its time; default: as --refine auto's check says)",
} as const satisfies OptionDef;
