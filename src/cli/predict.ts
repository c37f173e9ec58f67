/** `gapseg predict`: label images with a trained model, never predicting forbidden classes. */
import path from 'node:path';
import type { CommandSpec, Parsed } from './args.js';
import { checkRange, flag, list, num, str } from './args.js';
import { THREADS_OPTION, forbiddenIndices, log, startEngine } from './common.js';
import { openTfjsPredictor } from '../predict/model.js';
import { expandInputs, predictFiles } from '../predict/batch.js';
import { GapsegError } from '../util/errors.js';

export const predictSpec: CommandSpec = {
  name: 'predict',
  summary: 'predict label masks for images',
  usage: 'gapseg predict <run-or-model-dir> <image-or-folder>... --out <dir> [options]',
  description:
    'Writes, per image, <out>/labels/<name>.png (in the data set\'s own label values), <out>/overlays/<name>.png\n' +
    '(colours over the image) and, for two-class models, <out>/probs/<name>.png (probability of the second\n' +
    'class). Images of any size are predicted at the training scale (tiled when large) and written at\n' +
    'their own size. Forbidden classes are left out of the argmax, so they are never predicted.\n' +
    'With --frontier, also <out>/frontier/<name>.svg and .geojson: the class boundaries as sub-pixel polygons\n' +
    '(pixel coordinates, y down); with --uncertainty <p>, <out>/uncertainty/<name>.png marks (255) pixels whose\n' +
    'top class probability is below p.',
  positional: { min: 2, max: Infinity, names: 'a run or model folder and at least one image or folder' },
  options: [
    { name: 'out', type: 'string', placeholder: 'dir', help: 'output folder' },
    { name: 'forbid', type: 'list', placeholder: 'name', help: 'class names (or label values) never to predict; repeatable or comma-separated' },
    { name: 'prob-classes', type: 'list', placeholder: 'name', help: 'write probability maps for these classes' },
    { name: 'prob-bits', type: 'int', placeholder: '8|16', help: 'bit depth of probability PNGs', default: 8 },
    { name: 'frontier', type: 'boolean', help: 'write class boundaries as SVG and GeoJSON polygons' },
    { name: 'uncertainty', type: 'number', placeholder: 'p', help: 'write the band of pixels whose top probability is below p (e.g. 0.9)' },
    { name: 'strict', type: 'boolean', help: 'stop at the first unreadable image instead of skipping it' },
    THREADS_OPTION,
    { name: 'quiet', type: 'boolean', help: 'no progress bar' },
  ],
  examples: [
    'gapseg predict runs/smoke photos/ --out predictions',
    'gapseg predict runs/sky img1.jpg img2.jpg --out out --forbid cloud',
  ],
};

/** Run the predict command. */
export async function predictCommand(p: Parsed): Promise<number> {
  const out = str(p, 'out');
  if (!out) throw new GapsegError('--out <dir> is required (see: gapseg predict --help)', 2);
  const bits = num(p, 'prob-bits');
  if (bits !== 8 && bits !== 16) throw new GapsegError('--prob-bits must be 8 or 16', 2);
  checkRange(p, 'uncertainty', 0, 1);
  const [modelPath, ...inputs] = p.positional;
  const files = expandInputs(inputs);
  await startEngine(p);
  const predictor = openTfjsPredictor(modelPath);
  try {
    const forbidden = forbiddenIndices(list(p, 'forbid'), predictor.classes);
    const probClasses = list(p, 'prob-classes').length ? forbiddenIndices(list(p, 'prob-classes'), predictor.classes) : undefined;
    const result = await predictFiles(files, predictor, {
      outDir: path.resolve(out),
      forbidden,
      probClasses,
      probBits: bits,
      frontier: flag(p, 'frontier'),
      uncertainty: p.opts.uncertainty as number | undefined,
      strict: flag(p, 'strict'),
      quiet: flag(p, 'quiet'),
      log,
    });
    log(`predicted ${result.predicted} image(s) into ${out}${result.failed.length ? `; ${result.failed.length} failed` : ''}`);
    return result.failed.length ? 1 : 0;
  } finally {
    predictor.dispose();
  }
}
