/**
 * Frontier metrics over a data set (per-image definitions in boundary.ts).
 *
 * Aggregation: BF is averaged per image, as Csurka et al. do: an image's BF is the mean over
 * its assessed classes, the data set's mean BF is the mean of those over images, and a class's
 * BF is its mean over the images where it is assessed. Boundary IoU pools band counts over
 * images per class (like the IoU of the confusion matrix), and its mean is over assessed
 * classes. The frontier-in-gap share pools pixel counts. Void predictions are summed.
 * BF and Boundary IoU need a full truth; the other two only the labels and the prediction.
 */
import {
  boundaryF1,
  boundaryIoUCounts,
  countVoidValues,
  diagonal,
  frontierInGap,
  DEFAULT_BF_TOLERANCE,
  DEFAULT_BIOU_DILATION,
} from './boundary.js';

export interface FrontierMetricOptions {
  /** BF tolerance as a share of the image diagonal. */
  bfTolerance: number;
  /** Boundary IoU band width as a share of the image diagonal (at least 1 pixel). */
  biouDilation: number;
}

export const DEFAULT_FRONTIER_OPTIONS: FrontierMetricOptions = { bfTolerance: DEFAULT_BF_TOLERANCE, biouDilation: DEFAULT_BIOU_DILATION };

/** One image's frontier metrics. */
export interface FrontierImage {
  /** Per class (NaN = not assessed); null without a truth. */
  bf: number[] | null;
  /** Per class band counts; null without a truth. */
  bands: { intersection: number; union: number }[] | null;
  frontierInGap: { inGap: number; total: number };
  voidPredictions: number;
}

export interface FrontierImageInput {
  width: number;
  height: number;
  numClasses: number;
  /** Class indices of the labels (VOID_INDEX = void). */
  labels: Uint8Array;
  /** Predicted class indices. */
  pred: Uint8Array;
  /** Predicted label values, as written to label masks. */
  predValues: ArrayLike<number>;
  /** Full truth as class indices, when known. */
  truth?: Uint8Array;
  voidValues: readonly number[];
}

function meanDefined(xs: number[]): number {
  const d = xs.filter((x) => !Number.isNaN(x));
  return d.length ? d.reduce((a, b) => a + b, 0) / d.length : NaN;
}

/** Frontier metrics of one image. */
export function frontierImage(x: FrontierImageInput, opts: FrontierMetricOptions = DEFAULT_FRONTIER_OPTIONS): FrontierImage {
  const diag = diagonal(x.width, x.height);
  let bf: number[] | null = null;
  let bands: FrontierImage['bands'] = null;
  if (x.truth) {
    const truth = x.truth;
    bf = [];
    bands = [];
    for (let c = 0; c < x.numClasses; c++) {
      bf.push(boundaryF1(truth, x.pred, x.width, x.height, c, opts.bfTolerance * diag).f1);
      // At least one pixel, as in the reference code, so small images still have a band.
      bands.push(boundaryIoUCounts(truth, x.pred, x.width, x.height, c, Math.max(1, opts.biouDilation * diag)));
    }
  }
  return {
    bf,
    bands,
    frontierInGap: frontierInGap(x.labels, x.pred, x.width, x.height),
    voidPredictions: countVoidValues(x.predValues, x.voidValues),
  };
}

/** An image's mean BF over assessed classes (NaN if none or no truth). */
export function imageMeanBF(img: FrontierImage): number {
  return img.bf ? meanDefined(img.bf) : NaN;
}

/** An image's mean Boundary IoU over assessed classes (NaN if none or no truth). */
export function imageMeanBoundaryIoU(img: FrontierImage): number {
  return img.bands ? meanDefined(img.bands.map((b) => (b.union > 0 ? b.intersection / b.union : NaN))) : NaN;
}

/** Running totals over images. */
export interface FrontierTotals {
  numClasses: number;
  bfSum: number[];
  bfImages: number[];
  imageBfSum: number;
  imageBfCount: number;
  bandIntersection: number[];
  bandUnion: number[];
  truthImages: number;
  frontierInGap: number;
  frontierPixels: number;
  voidPredictions: number;
}

/** Empty totals for a K-class model. */
export function emptyFrontierTotals(numClasses: number): FrontierTotals {
  const z = () => new Array<number>(numClasses).fill(0);
  return {
    numClasses,
    bfSum: z(),
    bfImages: z(),
    imageBfSum: 0,
    imageBfCount: 0,
    bandIntersection: z(),
    bandUnion: z(),
    truthImages: 0,
    frontierInGap: 0,
    frontierPixels: 0,
    voidPredictions: 0,
  };
}

/** Add one image's metrics to the totals. */
export function addFrontierImage(t: FrontierTotals, img: FrontierImage): void {
  if (img.bf && img.bands) {
    t.truthImages++;
    img.bf.forEach((f, c) => {
      if (Number.isNaN(f)) return;
      t.bfSum[c] += f;
      t.bfImages[c]++;
    });
    const m = imageMeanBF(img);
    if (!Number.isNaN(m)) {
      t.imageBfSum += m;
      t.imageBfCount++;
    }
    img.bands.forEach((b, c) => {
      t.bandIntersection[c] += b.intersection;
      t.bandUnion[c] += b.union;
    });
  }
  t.frontierInGap += img.frontierInGap.inGap;
  t.frontierPixels += img.frontierInGap.total;
  t.voidPredictions += img.voidPredictions;
}

export interface FrontierReport {
  /** Tolerances used, as shares of each image's diagonal. */
  bfTolerance: number;
  biouDilation: number;
  /** Images with a full truth (BF and Boundary IoU are null without any). */
  truthImages: number;
  /** Per class, mean over images where assessed (NaN if never). */
  bf: number[] | null;
  /** Mean over images of the per-image mean BF. */
  meanBF: number | null;
  /** Per class, pooled band IoU (NaN if the class never has a band). */
  boundaryIoU: number[] | null;
  meanBoundaryIoU: number | null;
  /** Share of predicted frontier pixels whose label is void; null without predicted frontier. */
  frontierInGap: number | null;
  frontierPixels: number;
  /** Predicted pixels carrying a void label value (0 for gapseg models, which have no void output). */
  voidPredictions: number;
}

/** Final frontier metrics of the totals. */
export function frontierReport(t: FrontierTotals, opts: FrontierMetricOptions = DEFAULT_FRONTIER_OPTIONS): FrontierReport {
  const hasTruth = t.truthImages > 0;
  const biou = t.bandUnion.map((u, c) => (u > 0 ? t.bandIntersection[c] / u : NaN));
  return {
    bfTolerance: opts.bfTolerance,
    biouDilation: opts.biouDilation,
    truthImages: t.truthImages,
    bf: hasTruth ? t.bfSum.map((s, c) => (t.bfImages[c] > 0 ? s / t.bfImages[c] : NaN)) : null,
    meanBF: hasTruth ? (t.imageBfCount > 0 ? t.imageBfSum / t.imageBfCount : NaN) : null,
    boundaryIoU: hasTruth ? biou : null,
    meanBoundaryIoU: hasTruth ? meanDefined(biou) : null,
    frontierInGap: t.frontierPixels > 0 ? t.frontierInGap / t.frontierPixels : null,
    frontierPixels: t.frontierPixels,
    voidPredictions: t.voidPredictions,
  };
}

/** Report lines for the frontier metrics. */
export function formatFrontier(r: FrontierReport, classNames: readonly string[]): string[] {
  const f4 = (x: number | null) => (x === null || Number.isNaN(x) ? '   n/a' : x.toFixed(4));
  const pct = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(2)}%`);
  const lines: string[] = [];
  if (r.bf && r.boundaryIoU) {
    lines.push(
      `boundary F1 (BF, tolerance ${(100 * r.bfTolerance).toFixed(2)}% of the diagonal, mean over ${r.truthImages} images): ${f4(r.meanBF)}`,
      `Boundary IoU (band ${(100 * r.biouDilation).toFixed(2)}% of the diagonal): ${f4(r.meanBoundaryIoU)}`,
      `  ${'class'.padEnd(16)}${'BF'.padStart(8)}${'BIoU'.padStart(8)}`,
      ...classNames.map(
        (n, c) => `  ${n.slice(0, 15).padEnd(16)}${f4((r.bf as number[])[c]).padStart(8)}${f4((r.boundaryIoU as number[])[c]).padStart(8)}`,
      ),
    );
  }
  lines.push(`predicted frontier inside the gap: ${pct(r.frontierInGap)} of ${r.frontierPixels.toLocaleString('en')} frontier pixels`);
  lines.push(`void-valued predictions: ${r.voidPredictions}`);
  return lines;
}
