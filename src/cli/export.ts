/** `gapseg export`: write a checked ONNX copy of a model, used by predict from then on. */
import type { CommandSpec, Parsed } from './args.js';
import { str } from './args.js';
import { THREADS_OPTION, given, log } from './common.js';
import { exportModel, EXPORT_TOLERANCE } from '../api/export.js';

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
  const r = await exportModel(p.positional[0], { out: str(p, 'out'), threads: given(p, 'threads'), log });
  log(`checked: ONNX Runtime and TensorFlow.js logits differ by at most ${r.maxDiff.toExponential(2)} (largest logit ${r.maxLogit.toFixed(2)}) on a ${r.checkShape.join('x')} test batch`);
  process.stdout.write(`${r.file}\n`);
  log(`wrote ${r.file} (${(r.bytes / 1e6).toFixed(2)} MB)`);
  return 0;
}
