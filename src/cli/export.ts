/** `gapseg export`: write a checked ONNX copy of a model, used by predict from then on. */
import path from 'node:path';
import type { CommandSpec, Parsed } from './args.js';
import { str } from './args.js';
import { THREADS_OPTION, log, startEngine } from './common.js';
import { exportOnnx, EXPORT_TOLERANCE } from '../formats/onnx/export.js';
import { engineInfo } from '../engine/engine.js';
import { checkWritableDir } from '../util/atomic.js';
import { packageVersion } from '../util/packageInfo.js';
import { modelDirOf } from '../predict/model.js';
import { ONNX_FILE } from '../predict/open.js';

export const exportSpec: CommandSpec = {
  name: 'export',
  summary: 'export a model to ONNX (checked against TensorFlow.js)',
  usage: 'gapseg export <run-or-model-dir> [--out file.onnx]',
  description:
    'Writes model.onnx into the model folder (or --out): opset 17, NCHW input "image" [batch, 3, height,\n' +
    'width] with free batch and sides (multiples of 2^depth), output "logits" [batch, K, height, width],\n' +
    'batch norm folded into the convolutions. The class description (gapseg.json) and the input recipe\n' +
    '(scale, mean, std, tile) are in the model\'s metadata. Before it is put in place, the file is run by\n' +
    `ONNX Runtime on a test image and must match the TensorFlow.js model within ${EXPORT_TOLERANCE} (relative to\n` +
    'the largest logit when above 1). gapseg predict then uses it automatically.',
  positional: { min: 1, max: 1, names: 'a run or model folder' },
  options: [{ name: 'out', type: 'string', placeholder: 'file', help: 'where to write the .onnx file (default: <model>/model.onnx)' }, THREADS_OPTION],
  examples: ['gapseg export runs/smoke', 'gapseg export runs/smoke --out smoke.onnx'],
};

/** Run the export command. */
export async function exportCommand(p: Parsed): Promise<number> {
  const out = str(p, 'out');
  // Found out before the export and its check, not after.
  const target = out ? path.resolve(out) : path.join(modelDirOf(p.positional[0]), ONNX_FILE);
  checkWritableDir(path.dirname(target));
  await startEngine(p);
  const r = await exportOnnx(p.positional[0], { out: out ? path.resolve(out) : undefined, threads: engineInfo()?.threads ?? 2, version: packageVersion() });
  log(`checked: ONNX Runtime and TensorFlow.js logits differ by at most ${r.maxDiff.toExponential(2)} (largest logit ${r.maxLogit.toFixed(2)}) on a ${r.checkShape.join('x')} test batch`);
  process.stdout.write(`${r.file}\n`);
  log(`wrote ${r.file} (${(r.bytes / 1e6).toFixed(2)} MB)`);
  return 0;
}
