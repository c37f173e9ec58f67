/**
 * The refinement check: does `--refine crf` leave a model's labelled validation pixels as they
 * were? Refinement's gain lies in the gap, where no label can confirm it; its risk lies on the
 * labelled pixels, where the network is mostly right already and the colour kernel can merge
 * soft edges. Training runs the check on the model it keeps; `--refine auto` follows its verdict.
 */
import { GapsegError } from '../util/errors.js';
import { VOID_INDEX } from '../data/classes.js';
import { DEFAULT_DENSE_CRF, denseCrfSettings, type DenseCrfParams, type RefineOption } from '../crf/denseCrf.js';
import { predictImage, refinePrediction, type PredictModel } from './pipeline.js';

/** The check's outcome, as the model folder stores it (gapseg.json, model.info.refineCheck). */
export interface RefineCheck {
  /** Validation images checked. */
  images: number;
  /** Labelled pixels among them. */
  pixels: number;
  /** Labelled-pixel accuracy of the plain and of the refined predictions (0..1). */
  accuracy: number;
  refinedAccuracy: number;
  /** The verdict: refinement cost at most REFINE_COST of labelled accuracy. */
  refine: boolean;
}

/**
 * The labelled accuracy refinement may cost and still be used (0.15 point). It moves some
 * labelled pixels next to the gap along with the frontier: on smoke's validation images that
 * cost 0.03-0.10 points for 1-2 points gained in the gap, where on allsky-cloud's, with no gap
 * between sky and cloud, it cost 0.21-0.78 points for nothing (README, gap benchmark); the
 * limit lies between the two on a log scale.
 */
export const REFINE_COST = 0.0015;

/** A labelled image at the network's scale (training's validation samples). */
export interface CheckImage {
  width: number;
  height: number;
  /** RGB, 3 bytes per pixel. */
  image: Uint8Array;
  /** Class index per pixel, VOID_INDEX where unlabelled. */
  labels: Uint8Array;
}

/** Compare plain and refined predictions on labelled images (null: no labelled pixel). */
export async function checkRefinement(model: PredictModel, images: Iterable<CheckImage>, allowed: readonly number[], params: DenseCrfParams = DEFAULT_DENSE_CRF, onImage?: () => void): Promise<RefineCheck | null> {
  let count = 0;
  let pixels = 0;
  let correct = 0;
  let refinedCorrect = 0;
  for (const im of images) {
    const img = { width: im.width, height: im.height, data: im.image };
    const plain = await predictImage(img, model, allowed);
    const refined = refinePrediction(img, plain, allowed, params, 1);
    for (let i = 0; i < im.labels.length; i++) {
      const label = im.labels[i];
      if (label === VOID_INDEX) continue;
      pixels++;
      if (plain.classes[i] === label) correct++;
      if (refined.classes[i] === label) refinedCorrect++;
    }
    count++;
    onImage?.();
  }
  if (pixels === 0) return null;
  return { images: count, pixels, accuracy: correct / pixels, refinedAccuracy: refinedCorrect / pixels, refine: correct - refinedCorrect <= REFINE_COST * pixels };
}

/** One line for logs: the two accuracies and the verdict. */
export function describeRefineCheck(c: RefineCheck): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  return `refine check on ${c.images} validation image(s): labelled accuracy ${pct(c.accuracy)} plain, ${pct(c.refinedAccuracy)} refined: --refine auto ${c.refine ? 'refines' : `does not refine (refining may cost ${+(100 * REFINE_COST).toFixed(4)} point at most)`}`;
}

/** The stored check of a model's info (undefined: none stored); a damaged one is refused. */
export function refineCheckOf(info: Record<string, unknown>, source: string): RefineCheck | undefined {
  const c = info.refineCheck as Partial<RefineCheck> | undefined;
  if (c === undefined) return undefined;
  const share = (x: unknown) => typeof x === 'number' && x >= 0 && x <= 1;
  const count = (x: unknown) => Number.isInteger(x) && (x as number) > 0;
  if (typeof c !== 'object' || c === null || !count(c.images) || !count(c.pixels) || !share(c.accuracy) || !share(c.refinedAccuracy) || typeof c.refine !== 'boolean') {
    throw new GapsegError(`${source}: its refineCheck (gapseg.json, model.info) is damaged: expected images, pixels, accuracy, refinedAccuracy and refine`);
  }
  return c as RefineCheck;
}

/**
 * The dense CRF's settings for a refine option on a model: 'auto' follows the model's check,
 * which a model without one cannot answer (one line naming it).
 */
export function refineSettings(o: RefineOption | null | undefined, model: { source: string; refineCheck?: RefineCheck }): DenseCrfParams | null {
  if (o !== 'auto') return denseCrfSettings(o);
  if (!model.refineCheck) {
    throw new GapsegError(`${model.source}: --refine auto needs the refinement check that gapseg train stores in a model it trained with validation images; this model has none: use --refine crf or none`, 2);
  }
  return model.refineCheck.refine ? DEFAULT_DENSE_CRF : null;
}
