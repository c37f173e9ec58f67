/**
 * Predicting many files: expand folders, predict each image, write its outputs. A file that
 * cannot be decoded is reported by name and skipped (or stops everything with `strict`); the
 * caller turns a non-empty failure list into a non-zero exit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { readImage } from '../data/decode.js';
import { baseName } from '../data/dataset.js';
import { startProgress } from '../util/progress.js';
import { predictImage } from './pipeline.js';
import { writePrediction } from './outputs.js';
import { writeFrontierOutputs } from './frontierOutputs.js';
import { allowedClasses } from './forbid.js';
import type { Predictor } from './model.js';

/** Image files named by the arguments: files as given, folders expanded (sorted, no dotfiles). */
export function expandInputs(inputs: string[]): string[] {
  const files: string[] = [];
  for (const p of inputs) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      throw new GapsegError(`${p}: not found`);
    }
    if (st.isDirectory()) {
      const names = fs.readdirSync(p).filter((n) => !n.startsWith('.')).sort();
      for (const n of names) {
        const f = path.join(p, n);
        if (fs.statSync(f, { throwIfNoEntry: false })?.isFile()) files.push(f);
      }
    } else files.push(p);
  }
  if (files.length === 0) throw new GapsegError(`no image files in ${inputs.join(', ')}`);
  const seen = new Map<string, string>();
  for (const f of files) {
    const b = baseName(f);
    const prev = seen.get(b);
    if (prev) throw new GapsegError(`${f}: has the same base name as ${prev}; their outputs would overwrite each other`);
    seen.set(b, f);
  }
  return files;
}

export interface BatchOptions {
  outDir: string;
  forbidden: number[];
  probClasses?: number[];
  probBits?: 8 | 16;
  /** Also write frontier contours (SVG, GeoJSON). */
  frontier?: boolean;
  /** Also write the uncertainty band of pixels whose top probability is below this. */
  uncertainty?: number;
  strict: boolean;
  quiet: boolean;
  log: (line: string) => void;
}

export interface BatchResult {
  predicted: number;
  failed: { file: string; error: string }[];
}

/** Predict every file and write outputs under opts.outDir. */
export async function predictFiles(files: string[], predictor: Predictor, opts: BatchOptions): Promise<BatchResult> {
  const k = predictor.classes.length;
  const allowed = allowedClasses(k, opts.forbidden);
  await fs.promises.mkdir(opts.outDir, { recursive: true });
  const bar = startProgress({ label: 'predict', total: files.length, unit: 'img', quiet: opts.quiet });
  const failed: BatchResult['failed'] = [];
  let predicted = 0;
  for (const file of files) {
    try {
      const image = await readImage(file);
      const pred = await predictImage(image, predictor.run, {
        recipe: predictor.recipe,
        numClasses: k,
        multiple: predictor.multiple,
        allowed,
      });
      await writePrediction({
        outDir: opts.outDir,
        name: baseName(file),
        image,
        pred,
        classes: predictor.classes,
        probClasses: opts.probClasses,
        probBits: opts.probBits,
      });
      if (opts.frontier || opts.uncertainty !== undefined) {
        await writeFrontierOutputs({ outDir: opts.outDir, name: baseName(file), imageFile: file, pred, classes: predictor.classes, allowed, frontier: !!opts.frontier, uncertainty: opts.uncertainty });
      }
      predicted++;
    } catch (e) {
      if (!(e instanceof GapsegError) || opts.strict) throw e;
      failed.push({ file, error: e.message });
      opts.log(`error: ${e.message} (skipped)`);
    }
    bar.tick();
  }
  bar.done();
  return { predicted, failed };
}
