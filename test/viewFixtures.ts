/** A tiny trained run on generated data, shared by the report, server and browser tests (trained through the public API). */
import path from 'node:path';
import { writeSampleDataset } from '../src/data/sample.js';
import { train, type TrainResult } from '../src/index.js';
import { engine, tmpDir } from './helpers.js';

export interface TinyRun {
  /** Folder holding data/ and run/. */
  root: string;
  data: string;
  run: string;
  result: TrainResult;
}

/** Generate 12 images of 64x64 (4 validation) and train depth 2, width 4 for 2 epochs. */
export async function tinyRun(): Promise<TinyRun> {
  await engine();
  const root = tmpDir('gapseg-view-');
  const data = path.join(root, 'data');
  const run = path.join(root, 'run');
  await writeSampleDataset(data, { count: 12, size: 64, gap: 3, seed: 5, valid: 4, test: 2 });
  const result = await train(data, {
    out: run,
    force: true,
    crop: 64,
    batch: 4,
    epochs: 2,
    lr: 5e-3,
    depth: 2,
    width: 4,
    seed: 1,
    tile: 256,
  });
  return { root, data, run, result };
}
