/** `gapseg export`: write a checked ONNX copy of a model, used by predict from then on. */
import { exportModel, type ExportOptions } from '../api/export.js';
import { EXPORT_COMMAND } from '../options/commands.js';
import { apiOptions, log, type Command } from './common.js';

export const exportCommand: Command = {
  schema: EXPORT_COMMAND,
  async run(args) {
    const { onProgress: _bars, ...options } = apiOptions(args);
    const r = await exportModel(args.positional[0], options as ExportOptions);
    log(
      `checked: ONNX Runtime and TensorFlow.js logits differ by at most ${r.maxDiff.toExponential(2)} (largest logit ${r.maxLogit.toFixed(2)}) on a ${r.checkShape.join('x')} test batch`,
    );
    process.stdout.write(`${r.file}\n`);
    log(`wrote ${r.file} (${(r.bytes / 1e6).toFixed(2)} MB)`);
    return 0;
  },
};
