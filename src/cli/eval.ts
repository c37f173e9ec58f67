/** `gapseg eval`: metrics of a model on a data set, over labelled pixels only. */
import path from 'node:path';
import { openModel, type EvaluateOptions } from '../api/model.js';
import { formatReport } from '../evaluate/evalRun.js';
import { checkWritableDir, makeDir, writeFileAtomic } from '../util/atomic.js';
import { EVAL_COMMAND } from '../options/predict.js';
import { apiOptions, log, type Command } from './common.js';

export const evalCommand: Command = {
  schema: EVAL_COMMAND,
  async run(args) {
    const [modelPath, dataset] = args.positional;
    const { json, threads, log: _log, ...options } = apiOptions(args);
    // A metrics file that cannot be written is found out before the evaluation, not after.
    if (typeof json === 'string') checkWritableDir(path.dirname(path.resolve(json)), 0);
    const model = await openModel(modelPath, { threads: threads as number | undefined, log });
    try {
      const result = await model.evaluate(dataset, options as EvaluateOptions);
      process.stdout.write(formatReport(result, result.classes) + '\n');
      if (typeof json === 'string') {
        await makeDir(path.dirname(path.resolve(json)));
        await writeFileAtomic(
          path.resolve(json),
          JSON.stringify({ model: model.source, dataset: path.resolve(dataset), ...result }, null, 2) + '\n',
        );
        log(`metrics written to ${json}`);
      }
      return 0;
    } finally {
      model.close();
    }
  },
};
