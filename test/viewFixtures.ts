/** A tiny trained run on generated data, shared by the report, server and browser tests. */
import path from 'node:path';
import { writeSampleDataset } from '../src/data/sample.js';
import { DEFAULT_TRAIN, resolveClasses, runTraining, type RunResult } from '../src/train/run.js';
import { engine, tmpDir } from './helpers.js';

export interface TinyRun {
  /** Folder holding data/ and run/. */
  root: string;
  data: string;
  run: string;
  result: RunResult;
}

/** Generate 12 images of 64x64 (4 validation) and train depth 2, width 4 for 2 epochs. */
export async function tinyRun(): Promise<TinyRun> {
  await engine();
  const root = tmpDir('gapseg-view-');
  const data = path.join(root, 'data');
  const run = path.join(root, 'run');
  await writeSampleDataset(data, { count: 12, size: 64, gap: 3, seed: 5, valid: 4, test: 2 });
  const { classes, source } = resolveClasses(data, null, null);
  const result = await runTraining(
    run,
    { ...DEFAULT_TRAIN, dataset: data, classSource: source, classes, crop: 64, batchSize: 4, epochs: 2, lr: 5e-3, depth: 2, baseWidth: 4, seed: 1, tile: 256 },
    { resume: false, force: true, quiet: true, log: () => {} },
  );
  return { root, data, run, result };
}
