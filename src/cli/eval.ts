/** `gapseg eval`: metrics of a model on a data set, over labelled pixels only. */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { openModel, type EvaluateOptions, type PredictDevice } from '../api/model.js';
import { formatReport } from '../evaluate/evalRun.js';
import { checkWritableDir, makeDir, writeFileAtomic } from '../util/atomic.js';
import { EVAL_COMMAND } from '../options/predict.js';
import { apiOptions, log, type Command } from './common.js';

/**
 * --json replaces a metrics file of an earlier eval, never another file: a slip of the finger
 * (--json runs/smoke/model/model.json) would otherwise destroy a model.
 */
function refuseToReplace(file: string): void {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) return;
  let earlier: unknown = null;
  try {
    earlier = st.isFile() ? JSON.parse(fs.readFileSync(file, 'utf8')) : null;
  } catch {
    // Not JSON: not a metrics file.
  }
  const isMetrics = typeof earlier === 'object' && earlier !== null && ['model', 'dataset', 'report'].every((k) => k in earlier);
  if (!isMetrics)
    throw new GapsegError(`${file}: exists and is not a metrics file of gapseg eval; --json will not replace it (choose another name)`, 2);
}

export const evalCommand: Command = {
  schema: EVAL_COMMAND,
  async run(args) {
    const [modelPath, dataset] = args.positional;
    const { json, threads, device, log: _log, ...options } = apiOptions(args);
    // A metrics file that cannot be written is found out before the evaluation, not after.
    if (typeof json === 'string') {
      checkWritableDir(path.dirname(path.resolve(json)), 0);
      refuseToReplace(json);
    }
    const model = await openModel(modelPath, { threads: threads as number | undefined, device: device as PredictDevice | undefined, log });
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
