/**
 * Where the gap benchmark's models go wrong on a two-class eroded data set (smoke): the share of
 * the object's labelled and gap pixels predicted background, of the background's predicted as
 * the object, and how far the predicted object boundary lies from the true one (near it, or far
 * outside or inside the true object). BF on smoke mixes detection with placement; this separates them.
 *
 *   node build/bench/gapErrors.js --dataset <cache>/smoke-256-e4/ds-symmetric --runs <cache>/runs-seed1/smoke-256-symmetric/gapseg,... [--object smoke] [--refine crf]
 *
 * The data set folder is one bench:gap writes (images/, labels/, truth/, test.txt); a run whose
 * model has a class named "gap" (void-class) is evaluated with it forbidden (void-forbid). With
 * --refine crf every run's predictions are refined by the dense CRF first (predict --refine crf).
 */
import fs from 'node:fs';
import path from 'node:path';
import { engineOptionsFromEnv, initEngine } from '../src/engine/engine.js';
import { readImage, readLabel } from '../src/data/decode.js';
import { encodeLabels, labelMap, parseClassesFlag, VOID_INDEX } from '../src/data/classes.js';
import { squaredDistanceTo } from '../src/data/gaps.js';
import { classBoundary } from '../src/metrics/boundary.js';
import { openTfjsPredictor, predictModel } from '../src/predict/model.js';
import { predictImage } from '../src/predict/pipeline.js';
import { allowedClasses } from '../src/predict/forbid.js';
import { DEFAULT_DENSE_CRF } from '../src/crf/denseCrf.js';
import { argString, table, writeResult } from './common.js';

const DATASET = argString('dataset', '');
const RUNS = argString('runs', '').split(',').filter(Boolean);
const OBJECT = argString('object', 'smoke');
const REFINE = argString('refine', 'none');
const refine = REFINE === 'crf' ? DEFAULT_DENSE_CRF : null;

interface Errors {
  run: string;
  /** Shares of the object's labelled / gap pixels predicted background. */
  objectMissedLabelled: number;
  objectMissedGap: number;
  /** Shares of the background's labelled / gap pixels predicted as the object. */
  backgroundCalledLabelled: number;
  backgroundCalledGap: number;
  /** Predicted over true object area. */
  areaRatio: number;
  /** Shares of predicted object-boundary pixels within 2 px of the true boundary, over 8 px outside it, over 8 px inside it. */
  boundaryNear: number;
  boundaryFarOutside: number;
  boundaryFarInside: number;
  /** Mean top probability (over the allowed classes) on gap / labelled pixels: how much room the CRF has to move the frontier. */
  confidenceGap: number;
  confidenceLabelled: number;
}

async function errorsOf(run: string, test: string[]): Promise<Errors> {
  const real = parseClassesFlag(`0=background,255=${OBJECT}`, ['128']);
  const realTable = labelMap(real);
  const predictor = openTfjsPredictor(run);
  const n = {
    objL: 0,
    objLMiss: 0,
    objG: 0,
    objGMiss: 0,
    bgL: 0,
    bgLCalled: 0,
    bgG: 0,
    bgGCalled: 0,
    pred: 0,
    truth: 0,
    bnd: 0,
    near: 0,
    farOut: 0,
    farIn: 0,
    confG: 0,
    confL: 0,
  };
  try {
    const gap = predictor.classes.findIndex((c) => c.name === 'gap');
    const allowed = allowedClasses(predictor.classes.length, gap >= 0 ? [gap] : []);
    const objectValue = real.classes[1].value;
    for (const name of test) {
      const image = await readImage(path.join(DATASET, 'images', `${name}.png`));
      const lab = await readLabel(path.join(DATASET, 'labels', `${name}.png`));
      const labels = encodeLabels(lab.values, lab.width, realTable, name);
      const truth = encodeLabels((await readLabel(path.join(DATASET, 'truth', `${name}.png`))).values, lab.width, realTable, name);
      const out = await predictImage(image, predictModel(predictor), allowed, refine);
      const pred = Uint8Array.from(out.classes, (c) => (predictor.classes[c].value === objectValue ? 1 : 0));
      for (let i = 0; i < pred.length; i++) {
        const inGap = labels[i] === VOID_INDEX;
        const top = out.probs[i * predictor.classes.length + out.classes[i]];
        if (inGap) n.confG += top;
        else n.confL += top;
        if (truth[i] && inGap) {
          n.objG++;
          n.objGMiss += 1 - pred[i];
        } else if (truth[i]) {
          n.objL++;
          n.objLMiss += 1 - pred[i];
        } else if (inGap) {
          n.bgG++;
          n.bgGCalled += pred[i];
        } else {
          n.bgL++;
          n.bgLCalled += pred[i];
        }
        n.pred += pred[i];
        n.truth += truth[i];
      }
      const [w, h] = [image.width, image.height];
      const trueBoundary = classBoundary(truth, w, h, 1);
      const predBoundary = classBoundary(pred, w, h, 1);
      const d2 = squaredDistanceTo((i) => trueBoundary[i] === 1, w, h);
      for (let i = 0; i < predBoundary.length; i++) {
        if (!predBoundary[i]) continue;
        n.bnd++;
        if (d2[i] <= 4) n.near++;
        else if (d2[i] > 64) {
          if (truth[i]) n.farIn++;
          else n.farOut++;
        }
      }
    }
  } finally {
    predictor.dispose();
  }
  const share = (a: number, b: number) => (b > 0 ? a / b : NaN);
  return {
    run: path.basename(run) + (refine ? ' + refine' : ''),
    objectMissedLabelled: share(n.objLMiss, n.objL),
    objectMissedGap: share(n.objGMiss, n.objG),
    backgroundCalledLabelled: share(n.bgLCalled, n.bgL),
    backgroundCalledGap: share(n.bgGCalled, n.bgG),
    areaRatio: share(n.pred, n.truth),
    boundaryNear: share(n.near, n.bnd),
    boundaryFarOutside: share(n.farOut, n.bnd),
    boundaryFarInside: share(n.farIn, n.bnd),
    confidenceGap: share(n.confG, n.objG + n.bgG),
    confidenceLabelled: share(n.confL, n.objL + n.bgL),
  };
}

async function main(): Promise<void> {
  if (!DATASET || RUNS.length === 0) throw new Error('usage: gapErrors --dataset <bench:gap data set folder> --runs <run folder>,...');
  if (REFINE !== 'none' && REFINE !== 'crf') throw new Error(`--refine ${REFINE}: expected crf or none`);
  for (const f of ['test.txt', 'truth', 'labels', 'images'])
    if (!fs.existsSync(path.join(DATASET, f))) throw new Error(`${DATASET}: no ${f} (not a folder bench:gap wrote)`);
  await initEngine(engineOptionsFromEnv());
  const test = fs.readFileSync(path.join(DATASET, 'test.txt'), 'utf8').split('\n').filter(Boolean);
  const rows: Errors[] = [];
  for (const run of RUNS) rows.push(await errorsOf(run, test));
  const pct = (x: number) => (Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  console.log(
    `\nErrors on the ${test.length} test images of ${DATASET} (${OBJECT} against background; boundary distances to the true ${OBJECT} boundary)\n`,
  );
  console.log(
    table(
      [
        'run',
        `${OBJECT} missed, labelled`,
        `${OBJECT} missed, gap`,
        `bg called ${OBJECT}, labelled`,
        `bg called ${OBJECT}, gap`,
        'predicted / true area',
        'boundary <= 2 px',
        '> 8 px outside',
        '> 8 px inside',
        'top p, gap',
        'top p, labelled',
      ],
      rows.map((r) => [
        r.run,
        pct(r.objectMissedLabelled),
        pct(r.objectMissedGap),
        pct(r.backgroundCalledLabelled),
        pct(r.backgroundCalledGap),
        r.areaRatio.toFixed(2),
        pct(r.boundaryNear),
        pct(r.boundaryFarOutside),
        pct(r.boundaryFarInside),
        r.confidenceGap.toFixed(3),
        r.confidenceLabelled.toFixed(3),
      ]),
    ),
  );
  console.log(`\nwrote ${writeResult(argString('results', 'gap-errors.json'), { dataset: DATASET, rows })}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
