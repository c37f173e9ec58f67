/**
 * Evaluating a model on a data set at the images' own resolution: predict every pair,
 * compare with its labels over labelled pixels, and inside the gap where a full truth
 * exists (a truth/ folder, or the masks themselves when gaps are made with makeGap).
 */
import { GapsegError } from '../util/errors.js';
import { readImage, readLabel, type DecodeLimits } from '../data/decode.js';
import { discoverDataset, type PairFiles, type SplitName } from '../data/dataset.js';
import { encodeLabels, labelMap, type ClassDescription } from '../data/classes.js';
import { makeGap } from '../data/gaps.js';
import { stringHash } from '../util/random.js';
import { predictImage } from '../predict/pipeline.js';
import type { DenseCrfParams } from '../crf/denseCrf.js';
import { allowedClasses } from '../predict/forbid.js';
import { predictModel, type Predictor } from '../predict/model.js';
import { noProgress, type ProgressFactory } from '../util/progress.js';
import { addImage, emptyTotals, report, type EvalReport } from '../metrics/evaluate.js';
import { labelValues } from '../predict/outputs.js';
import {
  addFrontierImage,
  emptyFrontierTotals,
  formatFrontier,
  frontierImage,
  frontierReport,
  imageMeanBF,
  imageMeanBoundaryIoU,
  DEFAULT_FRONTIER_OPTIONS,
  type FrontierMetricOptions,
  type FrontierReport,
} from '../metrics/frontierMetrics.js';

export interface EvalOptions {
  split: SplitName | 'all' | 'auto';
  truthDir?: string;
  /** Erode labels by this many pixels (original resolution) and use the uneroded masks as truth. */
  makeGap: number;
  /** How uneven made gaps are, 0 (symmetric) to 1, drawn per image from its name as training draws them. */
  gapUneven?: number;
  forbidden: number[];
  /** Evaluate the dense CRF's refined predictions. */
  refine?: DenseCrfParams | null;
  classes: ClassDescription;
  /** Progress over the images (no display by default). */
  progress?: ProgressFactory;
  /** Notes: the compute path, once the first image is read. */
  log?: (line: string) => void;
  /** Pixel limit of the images and masks read. */
  limits?: DecodeLimits;
  /** BF tolerance and Boundary IoU band, as shares of the image diagonal. */
  frontier?: FrontierMetricOptions;
}

export interface ImageRow {
  name: string;
  pixelAccuracy: number;
  meanIoU: number;
  gapAccuracy: number | null;
  meanBF: number | null;
  meanBoundaryIoU: number | null;
}

export interface EvalResult {
  split: string;
  /** The class description the labels were read with. */
  classes: ClassDescription;
  report: EvalReport;
  frontier: FrontierReport;
  images: ImageRow[];
}

/** The pairs to evaluate: "auto" = the test split if there is one, else everything. */
export function pairsForSplit(dataset: string, split: EvalOptions['split'], truthDir?: string): { split: string; pairs: PairFiles[] } {
  const layout = discoverDataset(dataset, truthDir);
  const all = [...layout.splits.train, ...layout.splits.valid, ...layout.splits.test];
  let chosen: string = split;
  if (split === 'auto') chosen = layout.splits.test.length > 0 ? 'test' : 'all';
  const pairs = chosen === 'all' ? all : layout.splits[chosen as SplitName];
  if (pairs.length === 0) throw new GapsegError(`${dataset}: the ${chosen} split has no image/label pairs`);
  return { split: chosen, pairs };
}

/** Evaluate a predictor on a data set. */
export async function evaluateDataset(predictor: Predictor, dataset: string, opts: EvalOptions): Promise<EvalResult> {
  const { split, pairs } = pairsForSplit(dataset, opts.split, opts.truthDir);
  const k = predictor.classes.length;
  if (k !== opts.classes.classes.length) {
    throw new GapsegError(`the model has ${k} outputs but the class description has ${opts.classes.classes.length} classes`);
  }
  const table = labelMap(opts.classes);
  const allowed = allowedClasses(k, opts.forbidden);
  const totals = emptyTotals(k);
  const ftotals = emptyFrontierTotals(k);
  const fopts = opts.frontier ?? DEFAULT_FRONTIER_OPTIONS;
  const rows: ImageRow[] = [];
  const bar = (opts.progress ?? noProgress)('eval', pairs.length, 'img');
  for (const p of pairs) {
    const image = await readImage(p.image, opts.limits);
    const lab = await readLabel(p.label, opts.limits);
    if (lab.width !== image.width || lab.height !== image.height) {
      throw new GapsegError(`${p.label}: label is ${lab.width}x${lab.height} but its image is ${image.width}x${image.height}`);
    }
    let labels = encodeLabels(lab.values, lab.width, table, p.label);
    let truth: Uint8Array | undefined;
    if (p.truth) {
      const t = await readLabel(p.truth, opts.limits);
      if (t.width !== image.width || t.height !== image.height) throw new GapsegError(`${p.truth}: full mask size differs from its image`);
      truth = encodeLabels(t.values, t.width, table, p.truth);
    }
    if (opts.makeGap > 0) {
      truth = truth ?? labels;
      labels = makeGap(labels, image.width, image.height, opts.makeGap, opts.gapUneven ?? 0, stringHash(p.name));
    }
    if (rows.length === 0) opts.log?.(predictor.engineLine);
    const pred = await predictImage(image, predictModel(predictor), allowed, opts.refine);
    const one = emptyTotals(k);
    addImage(one, labels, pred.classes, truth);
    addImage(totals, labels, pred.classes, truth);
    const r = report(one);
    const f = frontierImage(
      {
        width: image.width,
        height: image.height,
        numClasses: k,
        labels,
        pred: pred.classes,
        predValues: labelValues(pred.classes, predictor.classes),
        truth,
        voidValues: opts.classes.voidValues,
      },
      fopts,
    );
    addFrontierImage(ftotals, f);
    const nul = (x: number) => (Number.isNaN(x) ? null : x);
    rows.push({
      name: p.name,
      pixelAccuracy: r.pixelAccuracy,
      meanIoU: r.meanIoU,
      gapAccuracy: r.gapAccuracy,
      meanBF: nul(imageMeanBF(f)),
      meanBoundaryIoU: nul(imageMeanBoundaryIoU(f)),
    });
    bar.tick();
  }
  bar.done();
  const r = report(totals);
  // With no labelled pixel every metric is 0/0: said in one line, not printed as NaN.
  if (r.pixels === 0)
    throw new GapsegError(
      `${dataset}: every pixel of every label mask of the ${split} split is void; there is nothing to evaluate against`,
    );
  return { split, classes: opts.classes, report: r, frontier: frontierReport(ftotals, fopts), images: rows };
}

/** A human-readable table of an evaluation. */
export function formatReport(result: EvalResult, classes: ClassDescription): string {
  const r = result.report;
  const pct = (x: number | null) => (x === null || Number.isNaN(x) ? '   n/a' : `${(100 * x).toFixed(2)}%`);
  const lines = [
    `split: ${result.split}, ${r.images} images, ${r.pixels.toLocaleString('en')} labelled pixels`,
    `pixel accuracy (labelled pixels): ${pct(r.pixelAccuracy)}`,
    `mean IoU: ${r.meanIoU.toFixed(4)}   mean Dice: ${r.meanDice.toFixed(4)}`,
  ];
  if (r.gapAccuracy !== null) lines.push(`accuracy inside the gap: ${pct(r.gapAccuracy)} over ${r.gapPixels.toLocaleString('en')} pixels`);
  lines.push(
    ...formatFrontier(
      result.frontier,
      classes.classes.map((c) => c.name),
    ),
  );
  lines.push('', `${'class'.padEnd(16)}${'IoU'.padStart(8)}${'Dice'.padStart(8)}`);
  classes.classes.forEach((c, i) =>
    lines.push(`${c.name.padEnd(16)}${r.iou[i].toFixed(4).padStart(8)}${r.dice[i].toFixed(4).padStart(8)}`),
  );
  lines.push('', 'confusion matrix (rows = truth, columns = prediction):');
  const w = Math.max(10, ...r.confusion.flat().map((x) => String(x).length + 2));
  lines.push(''.padEnd(16) + classes.classes.map((c) => c.name.slice(0, w - 1).padStart(w)).join(''));
  r.confusion.forEach((row, i) =>
    lines.push(classes.classes[i].name.slice(0, 15).padEnd(16) + row.map((x) => String(x).padStart(w)).join('')),
  );
  return lines.join('\n');
}
