/** `gapseg predict`: label images with a model, never predicting forbidden classes. */
import { openModel, type OpenModelOptions, type PredictFilesOptions } from '../api/model.js';
import { keyOf } from '../options/schema.js';
import { OPEN_OPTIONS, PREDICT_COMMAND } from '../options/predict.js';
import { apiOptions, log, type Command } from './common.js';

/** The flags openModel() takes, by API key; the rest go to predictFiles(). */
const OPEN_KEYS = new Set<string>(OPEN_OPTIONS.map((d) => keyOf(d.name)));

export const predictCommand: Command = {
  schema: PREDICT_COMMAND,
  async run(args) {
    const all = apiOptions(args);
    const open = Object.fromEntries(Object.entries(all).filter(([k]) => OPEN_KEYS.has(k) || k === 'log'));
    const files = Object.fromEntries(Object.entries(all).filter(([k]) => !OPEN_KEYS.has(k)));
    const [modelPath, ...inputs] = args.positional;
    const model = await openModel(modelPath, open as OpenModelOptions);
    try {
      const result = await model.predictFiles(inputs, files as unknown as PredictFilesOptions);
      const out = files.out as string;
      const parts = [
        `predicted ${result.predicted} image(s) into ${out} with ${model.engine === 'onnx' ? 'ONNX Runtime' : 'TensorFlow.js'}`,
      ];
      if (result.skipped) parts.push(`${result.skipped} already complete`);
      if (result.failed.length) parts.push(`${result.failed.length} failed: ${result.failed.map((f) => f.file).join(', ')}`);
      log(parts.join('; '));
      return result.failed.length ? 1 : 0;
    } finally {
      model.close();
    }
  },
};
