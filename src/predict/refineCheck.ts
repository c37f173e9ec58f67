/**
 * The refinement check: which of gapseg's two refinements at prediction time keep or raise a
 * model's labelled validation accuracy? Flip averaging (predict/flips.ts) must raise it to be
 * worth four times the network's time. The dense CRF's gain lies in the gap, where no label
 * can confirm it; its risk lies on the labelled pixels, where the network is mostly right
 * already and the colour kernel can merge soft edges, so it must merely not lower it much.
 * Training runs the check on the model it keeps; `--refine auto` follows its verdicts.
 */
import { GapsegError } from '../util/errors.js';
import { VOID_INDEX } from '../data/classes.js';
import { DEFAULT_DENSE_CRF, denseCrfSettings, type DenseCrfParams, type RefineOption } from '../crf/denseCrf.js';
import { predictImage, refinePrediction, type PredictModel } from './pipeline.js';
import { flipAveraged } from './flips.js';
import type { NetFn } from './netFn.js';

/** The check's outcome, as the model folder stores it (gapseg.json, model.info.refineCheck). */
export interface RefineCheck {
  /** Validation images checked. */
  images: number;
  /** Labelled pixels among them. */
  pixels: number;
  /** Labelled-pixel accuracy of the plain and of the refined predictions (0..1). */
  accuracy: number;
  refinedAccuracy: number;
  /**
   * The verdict on the dense CRF: refining cost at most REFINE_COST of labelled accuracy (of
   * the flip-averaged predictions where `flips` says to average them).
   */
  refine: boolean;
  /** Labelled-pixel accuracy of the flip-averaged predictions, plain and refined (absent in checks stored before flips). */
  flipsAccuracy?: number;
  flipsRefinedAccuracy?: number;
  /** The verdict on flips: averaging raised labelled accuracy by FLIPS_GAIN at least (absent: no flips). */
  flips?: boolean;
}

/**
 * The labelled accuracy refinement may cost and still be used (0.15 point). It moves some
 * labelled pixels next to the gap along with the frontier; where refining pays, that cost is
 * small, and where colours are soft (sky against cloud) it is larger for no gain. The limit lies
 * between the two as measured (docs/experiments.md, refinement).
 */
export const REFINE_COST = 0.0015;

/**
 * The labelled accuracy flip averaging must gain to be used (0.1 point), as it takes four
 * times the network's time (docs/experiments.md, refinement).
 */
export const FLIPS_GAIN = 0.001;

/** A labelled image at the network's scale (training's validation samples). */
export interface CheckImage {
  width: number;
  height: number;
  /** RGB, 3 bytes per pixel. */
  image: Uint8Array;
  /** Class index per pixel, VOID_INDEX where unlabelled. */
  labels: Uint8Array;
}

/** A NetFn answering each call with the next recorded scores (in the order they were recorded). */
function replayed(recorded: Float32Array[]): NetFn {
  return async (_input, n, height, width) => {
    const scores = recorded.shift();
    if (!scores || scores.length % (n * height * width) !== 0)
      throw new Error(`checkRefinement: no recorded scores for ${n} window(s) of ${width}x${height}`);
    return scores;
  };
}

/**
 * Compare plain, refined, flip-averaged and flip-averaged refined predictions on labelled
 * images (null: no labelled pixel).
 */
export async function checkRefinement(
  model: PredictModel,
  images: Iterable<CheckImage>,
  allowed: readonly number[],
  params: DenseCrfParams = DEFAULT_DENSE_CRF,
  onImage?: () => void,
): Promise<RefineCheck | null> {
  // The flip-averaged pass keeps its unflipped scores, and the plain pass replays them: the
  // same image through the same windows calls the network in the same order.
  const unflipped: Float32Array[] = [];
  const flipsModel = { ...model, net: flipAveraged(model.net, model.numClasses, (s) => unflipped.push(s)) };
  const replayModel = { ...model, net: replayed(unflipped) };
  let count = 0;
  let pixels = 0;
  // Correct labelled pixels: plain, refined, flips, flips refined.
  const correct = [0, 0, 0, 0];
  for (const im of images) {
    const img = { width: im.width, height: im.height, data: im.image };
    const flipped = await predictImage(img, flipsModel, allowed);
    const plain = await predictImage(img, replayModel, allowed);
    if (unflipped.length) throw new Error(`checkRefinement: ${unflipped.length} network call(s) of the flip-averaged pass not replayed`);
    const preds = [
      plain,
      refinePrediction(img, plain, allowed, params, 1),
      flipped,
      refinePrediction(img, flipped, allowed, params, 1),
    ].map((p) => p.classes);
    for (let i = 0; i < im.labels.length; i++) {
      const label = im.labels[i];
      if (label === VOID_INDEX) continue;
      pixels++;
      for (let v = 0; v < 4; v++) if (preds[v][i] === label) correct[v]++;
    }
    count++;
    onImage?.();
  }
  if (pixels === 0) return null;
  const [plain, refined, flipsPlain, flipsRefined] = correct;
  const flips = flipsPlain - plain >= FLIPS_GAIN * pixels;
  const refine = flips ? flipsPlain - flipsRefined <= REFINE_COST * pixels : plain - refined <= REFINE_COST * pixels;
  return {
    images: count,
    pixels,
    accuracy: plain / pixels,
    refinedAccuracy: refined / pixels,
    refine,
    flipsAccuracy: flipsPlain / pixels,
    flipsRefinedAccuracy: flipsRefined / pixels,
    flips,
  };
}

/** One line for logs: the accuracies and the verdicts. */
export function describeRefineCheck(c: RefineCheck): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const points = (x: number) => +(100 * x).toFixed(4);
  const refine = c.refine ? 'refines' : `does not refine (refining may cost ${points(REFINE_COST)} point at most)`;
  if (c.flipsAccuracy === undefined || c.flipsRefinedAccuracy === undefined) {
    return `refine check on ${c.images} validation image(s): labelled accuracy ${pct(c.accuracy)} plain, ${pct(c.refinedAccuracy)} refined: --refine auto ${refine}`;
  }
  const flips = c.flips ? 'averages flips and' : `does not average flips (they must gain ${points(FLIPS_GAIN)} point) and`;
  return `refine check on ${c.images} validation image(s): labelled accuracy ${pct(c.accuracy)} plain, ${pct(c.refinedAccuracy)} refined, ${pct(c.flipsAccuracy)} flip-averaged, ${pct(c.flipsRefinedAccuracy)} both: --refine auto ${flips} ${refine}`;
}

/** The stored check of a model's info (undefined: none stored); a damaged one is refused. */
export function refineCheckOf(info: Record<string, unknown>, source: string): RefineCheck | undefined {
  const c = info.refineCheck as Partial<RefineCheck> | undefined;
  if (c === undefined) return undefined;
  const share = (x: unknown) => typeof x === 'number' && x >= 0 && x <= 1;
  const count = (x: unknown) => Number.isInteger(x) && (x as number) > 0;
  if (
    typeof c !== 'object' ||
    c === null ||
    !count(c.images) ||
    !count(c.pixels) ||
    !share(c.accuracy) ||
    !share(c.refinedAccuracy) ||
    typeof c.refine !== 'boolean'
  ) {
    throw new GapsegError(
      `${source}: its refineCheck (gapseg.json, model.info) is damaged: expected images, pixels, accuracy, refinedAccuracy and refine`,
    );
  }
  // Checks stored before flip averaging have none of its three fields; a newer one has all.
  const flipFields = [c.flipsAccuracy, c.flipsRefinedAccuracy, c.flips];
  if (
    flipFields.some((x) => x !== undefined) &&
    !(share(c.flipsAccuracy) && share(c.flipsRefinedAccuracy) && typeof c.flips === 'boolean')
  ) {
    throw new GapsegError(
      `${source}: its refineCheck (gapseg.json, model.info) is damaged: flipsAccuracy, flipsRefinedAccuracy and flips go together`,
    );
  }
  return c as RefineCheck;
}

/**
 * The dense CRF's settings for a refine option on a model: 'auto' follows the model's check; a
 * model without one (trained without validation images, or not by gapseg) is not refined.
 */
export function refineSettings(o: RefineOption | null | undefined, model: { refineCheck?: RefineCheck }): DenseCrfParams | null {
  if (o !== 'auto') return denseCrfSettings(o);
  return model.refineCheck?.refine ? DEFAULT_DENSE_CRF : null;
}

/** What 'auto' does on a model, for the log: its stored check, or that it has none. */
export function describeAuto(model: { source: string; refineCheck?: RefineCheck }): string {
  if (model.refineCheck) return `${describeRefineCheck(model.refineCheck)} (stored with the model)`;
  return `note: ${model.source} holds no refinement check (gapseg train stores one where it has validation images), so --refine auto predicts without refinement; --refine crf refines`;
}

/**
 * Whether predictions average over flips: as `flips` says when given, else as the model's
 * check says under refine 'auto' (a check stored before flips says no).
 */
export function flipsSetting(o: RefineOption | null | undefined, model: { refineCheck?: RefineCheck }, flips?: boolean): boolean {
  if (flips !== undefined) return flips;
  return o === 'auto' && model.refineCheck?.flips === true;
}

/** The predictor as predicting sees it: its network flip-averaged when `flips` says so. */
export function withFlips<P extends { net: NetFn; classes: readonly unknown[] }>(p: P, flips: boolean): P {
  return flips ? { ...p, net: flipAveraged(p.net, p.classes.length) } : p;
}
