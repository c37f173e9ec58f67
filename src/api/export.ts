/** Exporting a model to ONNX, checked against TensorFlow.js: the API behind `gapseg export`. */
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { checkWritableDir } from '../util/atomic.js';
import { packageVersion } from '../util/packageInfo.js';
import { modelDirOf } from '../formats/modelFolder.js';
import { ONNX_FILE } from '../formats/onnx/gapsegOnnx.js';
import { exportOnnx as exportChecked, EXPORT_TOLERANCE, type ExportResult } from '../formats/onnx/export.js';
import { checkValues, type OptionValues } from '../options/schema.js';
import { EXPORT_COMMAND, type EXPORT_OPTIONS } from '../options/commands.js';
import type { ApiKeys, Same } from '../options/keys.js';
import { startEngine } from './engine.js';

export { EXPORT_TOLERANCE, type ExportResult };

export interface ExportOptions {
  /** Where to write the .onnx file (default: model.onnx in the model folder, which predict then uses). */
  out?: string;
  threads?: number;
  log?: (line: string) => void;
}

// The options and the interface cannot drift apart.
const sameKeys: Same<Exclude<keyof ExportOptions, 'log'>, ApiKeys<typeof EXPORT_OPTIONS>> = true;
void sameKeys;

/** Write a run or model folder's model as ONNX, placed only once ONNX Runtime reproduces the TensorFlow.js logits. */
export async function exportModel(model: string, options: ExportOptions = {}): Promise<ExportResult> {
  checkValues(EXPORT_COMMAND, options as OptionValues, ['log']);
  const log = options.log ?? (() => undefined);
  // Only an .onnx file is written: a slip (--out model/weights.bin) would otherwise replace another file.
  if (options.out !== undefined && path.extname(options.out).toLowerCase() !== '.onnx')
    throw new GapsegError(`--out ${options.out}: must name a .onnx file`, 2);
  const target = options.out ? path.resolve(options.out) : path.join(modelDirOf(model), ONNX_FILE);
  // Found out before the export and its check, not after.
  checkWritableDir(path.dirname(target));
  const info = await startEngine(options.threads, log);
  return exportChecked(model, { out: target, threads: info.threads, version: packageVersion() });
}
