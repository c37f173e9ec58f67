/** `gapseg train`: its flags are the API's train options. */
import path from 'node:path';
import { train, type TrainOptions } from '../api/train.js';
import { TRAIN_COMMAND } from '../options/train.js';
import { apiOptions, log, type Command } from './common.js';

export const trainCommand: Command = {
  schema: TRAIN_COMMAND,
  async run({ positional, values }) {
    const result = await train(positional[0], apiOptions({ positional, values }) as unknown as TrainOptions);
    const best = result.history.find((r) => r.epoch === result.bestEpoch);
    const why = best?.valid ? `, validation mean IoU ${best.valid.meanIoU.toFixed(3)}` : best ? ', lowest training loss' : '';
    log(
      `done in ${result.seconds.toFixed(0)}s; kept model: ${path.join(values.out as string, 'model')}${best ? ` (epoch ${best.epoch} of ${result.history.length}${why})` : ''}`,
    );
    return 0;
  },
};
