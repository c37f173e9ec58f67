/**
 * `gapseg demo`: the whole job on the built-in sample, in a few minutes: generate smoke-like
 * images with gap labels, train, predict the held-out images (--refine auto), evaluate (including accuracy
 * inside the gap against the hidden full truth), and say where everything is.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CommandSpec, Parsed } from './args.js';
import { flag, num, str } from './args.js';
import { THREADS_OPTION, given, log } from './common.js';
import { progressBars } from './progress.js';
import { makeSample } from '../api/sample.js';
import { train } from '../api/train.js';
import { openModel } from '../api/model.js';
import { formatReport } from '../evaluate/evalRun.js';
import { readSplitList } from '../data/dataset.js';
import { writeFileAtomic } from '../util/atomic.js';

export const demoSpec: CommandSpec = {
  name: 'demo',
  summary: 'train and predict on the built-in sample (smoke-like blobs with gap labels)',
  usage: 'gapseg demo [--out demo-out] [options]',
  description:
    'Generates the sample data set (images/, labels/ with 128 = void between "surely smoke" and\n' +
    '"surely not smoke", truth/ with the full masks), trains a small U-Net on it, predicts the held-out\n' +
    'test images (refined where the model\'s refinement check says so, as --refine auto does), and\n' +
    'evaluates them, including accuracy inside the unlabelled gap.',
  positional: { min: 0, max: 0, names: 'no arguments' },
  options: [
    { name: 'out', type: 'string', placeholder: 'dir', help: 'folder for data, run, predictions and report', default: 'demo-out' },
    { name: 'images', type: 'int', placeholder: 'n', help: 'training images to generate', default: 96 },
    { name: 'epochs', type: 'int', placeholder: 'n', help: 'training epochs', default: 16 },
    { name: 'seed', type: 'int', placeholder: 'n', help: 'seed of the sample and the training', default: 7 },
    THREADS_OPTION,
    { name: 'quiet', type: 'boolean', help: 'no progress bars' },
  ],
  examples: ['npm run demo', 'gapseg demo --out /tmp/demo --epochs 5'],
};

/** Run the demo command: the sample, then train, predict and evaluate through the API. */
export async function demoCommand(p: Parsed): Promise<number> {
  const started = Date.now();
  const out = path.resolve(str(p, 'out') as string);
  const onProgress = progressBars(flag(p, 'quiet'));
  const dataDir = path.join(out, 'data');
  const runDir = path.join(out, 'run');
  const predDir = path.join(out, 'predictions');
  const seed = num(p, 'seed');
  log(`generating the sample data set in ${dataDir}`);
  await makeSample(dataDir, { images: num(p, 'images'), seed });
  const result = await train(dataDir, { out: runDir, force: true, crop: 96, batch: 8, epochs: num(p, 'epochs'), lr: 5e-3, encoder: 'unet', depth: 3, width: 8, seed, tile: 256, threads: given(p, 'threads'), onProgress, log });
  const model = await openModel(result.dir, { log });
  try {
    const testFiles = readSplitList(path.join(dataDir, 'test.txt')).map((n) => path.join(dataDir, 'images', `${n}.png`));
    await fs.promises.rm(predDir, { recursive: true, force: true });
    await model.predictFiles(testFiles, { out: predDir, frontier: true, strict: true, onProgress, log });
    const evalResult = await model.evaluate(dataDir, { split: 'test', onProgress });
    process.stdout.write(`\n${formatReport(evalResult, evalResult.classes)}\n`);
    const reportFile = path.join(out, 'report.json');
    const seconds = (Date.now() - started) / 1000;
    await writeFileAtomic(
      reportFile,
      JSON.stringify({ seconds, trainSeconds: result.seconds, bestEpoch: result.bestEpoch, history: result.history, refineCheck: result.refineCheck, test: evalResult }, null, 2) + '\n',
    );
    const r = evalResult.report;
    process.stdout.write(
      [
        '',
        `demo finished in ${seconds.toFixed(0)}s (training ${result.seconds.toFixed(0)}s)`,
        `test images: accuracy on labelled pixels ${(100 * r.pixelAccuracy).toFixed(2)}%, inside the gap ${r.gapAccuracy === null ? 'n/a' : (100 * r.gapAccuracy).toFixed(2) + '%'}, mean IoU ${r.meanIoU.toFixed(3)}`,
        `  data:        ${dataDir}`,
        `  model:       ${result.modelDir}`,
        `  predictions: ${predDir}/{labels,overlays,probs,frontier}`,
        `  report:      ${path.join(runDir, 'report.html')}  (open it in a browser; numbers in ${reportFile})`,
        `  browse:      gapseg view ${out}`,
        '',
      ].join('\n'),
    );
    return 0;
  } finally {
    model.close();
  }
}
