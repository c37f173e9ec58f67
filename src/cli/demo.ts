/**
 * `gapseg demo`: the whole job on the built-in sample, in a few minutes: generate smoke-like
 * images with gap labels, train, predict the held-out images (--refine auto), evaluate (including accuracy
 * inside the gap against the hidden full truth), and say where everything is.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeSample } from '../api/sample.js';
import { train } from '../api/train.js';
import { openModel } from '../api/model.js';
import { formatReport } from '../evaluate/evalRun.js';
import { readSplitList } from '../data/dataset.js';
import { writeFileAtomic } from '../util/atomic.js';
import { DEMO_COMMAND } from '../options/commands.js';
import { defaultsOf } from '../options/schema.js';
import { log, type Command } from './common.js';
import { progressBars } from './progress.js';

export const demoCommand: Command = { schema: DEMO_COMMAND, run: demo };

/** The demo: the sample, then train, predict and evaluate through the API. */
async function demo({ values }: Parameters<Command['run']>[0]): Promise<number> {
  const started = Date.now();
  const o = { ...defaultsOf(DEMO_COMMAND), ...values } as {
    out: string;
    images: number;
    epochs: number;
    seed: number;
    threads?: number;
    quiet?: boolean;
  };
  const out = path.resolve(o.out);
  const onProgress = progressBars(o.quiet === true);
  const dataDir = path.join(out, 'data');
  const runDir = path.join(out, 'run');
  const predDir = path.join(out, 'predictions');
  const seed = o.seed;
  log(`generating the sample data set in ${dataDir}`);
  await makeSample(dataDir, { images: o.images, seed });
  const result = await train(dataDir, {
    out: runDir,
    force: true,
    crop: 96,
    batch: 8,
    epochs: o.epochs,
    lr: 5e-3,
    encoder: 'unet',
    depth: 3,
    width: 8,
    seed,
    tile: 256,
    threads: o.threads,
    onProgress,
    log,
  });
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
      JSON.stringify(
        {
          seconds,
          trainSeconds: result.seconds,
          bestEpoch: result.bestEpoch,
          history: result.history,
          refineCheck: result.refineCheck,
          test: evalResult,
        },
        null,
        2,
      ) + '\n',
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
