/**
 * Frontier metrics on hand-made label maps (values worked out by hand in the comments), the
 * empty cases, aggregation, and the void-prediction count on a real (tiny, untrained) model's
 * outputs and on a hand-made mask.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { VOID_INDEX, parseClassesJson } from '../src/data/classes.js';
import { readLabel } from '../src/data/decode.js';
import { writeSampleDataset, SAMPLE_CLASSES } from '../src/data/sample.js';
import { boundaryF1, boundaryIoUCounts, classBoundary, countVoidValues, frontierInGap, frontierPixels } from '../src/metrics/boundary.js';
import { addFrontierImage, emptyFrontierTotals, frontierImage, frontierReport, imageMeanBF } from '../src/metrics/frontierMetrics.js';
import { evaluateDataset, formatReport } from '../src/evaluate/evalRun.js';
import { createUNet, DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { saveModel } from '../src/formats/modelFolder.js';
import { openTfjsPredictor } from '../src/predict/model.js';
import { expandInputs } from '../src/predict/inputs.js';
import { predictStream } from '../src/predict/stream.js';
import { engine, tmpDir, writePng } from './helpers.js';

before(engine);

function map(w: number, h: number, f: (x: number, y: number) => number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = f(x, y);
  return out;
}

const W = 20;
const H = 20;
/** Class 1 on the square [x0, x0+10) x [5, 15), class 0 elsewhere. */
const square = (x0: number) => map(W, H, (x, y) => (x >= x0 && x < x0 + 10 && y >= 5 && y < 15 ? 1 : 0));

test('boundary pixels: class pixels with a 4-neighbour of another real class; void and the border do not count', () => {
  const labels = Uint8Array.from([0, 0, 0, 0, 0, 1, 1, VOID_INDEX, 0, 1, 1, VOID_INDEX, 0, 0, VOID_INDEX, VOID_INDEX]);
  // Class 1: (1,1) (2,1) (1,2) touch class 0; (2,2) touches only class 1 and void.
  assert.deepEqual([...classBoundary(labels, 4, 4, 1)], [0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...classBoundary(labels, 4, 4, 0)], [0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
  assert.deepEqual([...frontierPixels(labels, 4, 4)], [0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0]);
});

test('BF = 1 and Boundary IoU = 1 for identical masks', () => {
  const a = square(5);
  for (const c of [0, 1]) {
    assert.equal(boundaryF1(a, a, W, H, c, 0).f1, 1);
    const b = boundaryIoUCounts(a, a, W, H, c, 3);
    assert.ok(b.union > 0);
    assert.equal(b.intersection, b.union);
  }
});

test('BF of a square shifted by 2 pixels, by hand', () => {
  const truth = square(5);
  const pred = square(7);
  // Class 1: each boundary is the 36-pixel ring of its square. At theta = 0 only the top and
  // bottom rows overlap, x = 7..14: 16 pixels each way.
  let r = boundaryF1(truth, pred, W, H, 1, 0);
  assert.deepEqual([r.truthPixels, r.predPixels, r.matchedPred, r.matchedTruth], [36, 36, 16, 16]);
  assert.ok(Math.abs(r.f1 - 16 / 36) < 1e-12);
  // theta = 1: predicted top/bottom rows x = 7..15 (9 + 9) and the left column's end pixels
  // (7,6) and (7,13), one step from the true rows: 20 of 36, and the same for recall by symmetry.
  r = boundaryF1(truth, pred, W, H, 1, 1);
  assert.equal(r.matchedPred, 20);
  assert.equal(r.matchedTruth, 20);
  assert.ok(Math.abs(r.f1 - 5 / 9) < 1e-12);
  // theta = 2: every side is within 2 pixels of its counterpart.
  assert.equal(boundaryF1(truth, pred, W, H, 1, 2).f1, 1);
  // Class 0: the 40 pixels 4-adjacent to each square; rows y = 4 and 15 overlap at x = 7..14.
  r = boundaryF1(truth, pred, W, H, 0, 0);
  assert.deepEqual([r.truthPixels, r.predPixels, r.matchedPred], [40, 40, 16]);
  assert.ok(Math.abs(r.f1 - 0.4) < 1e-12);
  assert.equal(boundaryF1(truth, pred, W, H, 0, 2).f1, 1);
  // Through frontierImage: tolerance as a share of the diagonal.
  const diag = Math.hypot(W, H);
  const img = frontierImage(
    { width: W, height: H, numClasses: 2, labels: truth, pred, predValues: pred, truth, voidValues: [] },
    { bfTolerance: 1 / diag, biouDilation: 1 / diag },
  );
  assert.ok(Math.abs((img.bf as number[])[1] - 5 / 9) < 1e-9);
  assert.ok(Math.abs(imageMeanBF(img) - ((img.bf as number[])[0] + 5 / 9) / 2) < 1e-12);
});

test('Boundary IoU of a square shifted by 2 pixels, by hand', () => {
  const truth = square(5);
  const pred = square(7);
  // d = 1: class 1 bands are the 36-pixel rings, sharing 16 pixels: 16 / (72 - 16) = 2/7.
  assert.deepEqual(boundaryIoUCounts(truth, pred, W, H, 1, 1), { intersection: 16, union: 56 });
  // Class 0 bands are the 40 outside neighbours: 16 / (80 - 16) = 1/4.
  assert.deepEqual(boundaryIoUCounts(truth, pred, W, H, 0, 1), { intersection: 16, union: 64 });
  // The default band, 2% of the diagonal = 0.57 px here, is raised to 1 pixel as in the reference code.
  const img = frontierImage({ width: W, height: H, numClasses: 2, labels: truth, pred, predValues: pred, truth, voidValues: [] });
  assert.deepEqual(img.bands, [
    { intersection: 16, union: 64 },
    { intersection: 16, union: 56 },
  ]);
  // A wide band: still below 1 for the shifted square.
  const wide = boundaryIoUCounts(truth, pred, W, H, 1, 3);
  assert.ok(wide.intersection / wide.union < 1 && wide.intersection / wide.union > 0.3);
  // The image border is not a contour: a mask covering the image has no band.
  const all = new Uint8Array(W * H).fill(1);
  assert.deepEqual(boundaryIoUCounts(all, all, W, H, 1, 3), { intersection: 0, union: 0 });
});

test('empty cases: no boundary on both sides is NaN (not assessed), on one side only is 0', () => {
  const flat = new Uint8Array(W * H);
  const sq = square(5);
  assert.ok(Number.isNaN(boundaryF1(flat, flat, W, H, 1, 2).f1));
  assert.equal(boundaryF1(sq, flat, W, H, 1, 2).f1, 0);
  assert.equal(boundaryF1(flat, sq, W, H, 1, 2).f1, 0);
  assert.deepEqual(boundaryIoUCounts(flat, sq, W, H, 1, 2).intersection, 0);
  const img = frontierImage({
    width: W,
    height: H,
    numClasses: 2,
    labels: flat,
    pred: flat,
    predValues: flat,
    truth: flat,
    voidValues: [],
  });
  assert.ok(Number.isNaN(imageMeanBF(img)));
  const t = emptyFrontierTotals(2);
  addFrontierImage(t, img);
  const r = frontierReport(t);
  assert.ok(r.meanBF !== null && Number.isNaN(r.meanBF));
  assert.equal(r.frontierInGap, null);
  // Without truth: no BF or Boundary IoU at all.
  const noTruth = emptyFrontierTotals(2);
  addFrontierImage(noTruth, frontierImage({ width: W, height: H, numClasses: 2, labels: sq, pred: sq, predValues: sq, voidValues: [] }));
  assert.equal(frontierReport(noTruth).bf, null);
  assert.equal(frontierReport(noTruth).meanBoundaryIoU, null);
});

test('predicted boundary pixels where the truth is void are not judged', () => {
  const truth = square(5);
  const pred = square(7);
  // Void over the predicted right side (x = 16): its 10 boundary pixels leave the precision.
  for (let y = 0; y < H; y++) truth[y * W + 16] = VOID_INDEX;
  const r = boundaryF1(truth, pred, W, H, 1, 0);
  assert.equal(r.predPixels, 26);
  assert.equal(r.matchedPred, 16);
});

test('share of the predicted frontier inside the gap, on a constructed case', () => {
  const [w, h] = [10, 6];
  // Labels: class 0 in columns 0..3, void in columns 4..5, class 1 in columns 6..9.
  const labels = map(w, h, (x) => (x < 4 ? 0 : x < 6 ? VOID_INDEX : 1));
  const split = (at: number) => map(w, h, (x) => (x < at ? 0 : 1));
  // Frontier between columns 4 and 5: both columns in the gap.
  assert.deepEqual(frontierInGap(labels, split(5), w, h), { inGap: 12, total: 12 });
  // Between 6 and 7: both labelled.
  assert.deepEqual(frontierInGap(labels, split(7), w, h), { inGap: 0, total: 12 });
  // Between 3 and 4: column 4 in the gap, column 3 not.
  assert.deepEqual(frontierInGap(labels, split(4), w, h), { inGap: 6, total: 12 });
  // Pooled over two images: (12 + 6) / 24.
  const t = emptyFrontierTotals(2);
  for (const at of [5, 4])
    addFrontierImage(
      t,
      frontierImage({ width: w, height: h, numClasses: 2, labels, pred: split(at), predValues: split(at), voidValues: [] }),
    );
  assert.equal(frontierReport(t).frontierInGap, 0.75);
  assert.equal(frontierReport(t).frontierPixels, 24);
});

test('void count: > 0 for a hand-made label PNG holding the void value', async () => {
  const dir = tmpDir();
  const values = map(8, 4, (x, y) => (x === 3 && y < 3 ? 128 : x < 4 ? 0 : 255));
  await writePng(path.join(dir, 'hand.png'), values, 8, 4, 1);
  const lab = await readLabel(path.join(dir, 'hand.png'));
  assert.equal(countVoidValues(lab.values, [128]), 3);
  assert.equal(countVoidValues(lab.values, []), 0);
  assert.equal(countVoidValues(lab.values, [7]), 0);
});

test('a gapseg model predicts no void value: eval reports 0 and its written labels hold none', async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { count: 3, size: 32, gap: 2, seed: 3, valid: 0, test: 1 });
  const classes = parseClassesJson(JSON.stringify(SAMPLE_CLASSES), 'sample');
  const net = createUNet({ ...DEFAULT_UNET, depth: 2, baseWidth: 4, numClasses: 2 }, 5);
  const modelDir = path.join(dir, 'model');
  await saveModel(modelDir, net, { classes, input: { scale: 1, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], tile: 64 }, info: {} });
  const predictor = openTfjsPredictor(modelDir);
  try {
    const withTruth = await evaluateDataset(predictor, data, { split: 'all', makeGap: 0, forbidden: [], classes });
    assert.equal(withTruth.frontier.voidPredictions, 0);
    assert.equal(withTruth.frontier.truthImages, 3);
    assert.equal(withTruth.frontier.bf?.length, 2);
    assert.ok(withTruth.images.every((r) => 'meanBF' in r && 'meanBoundaryIoU' in r));
    const text = formatReport(withTruth, classes);
    assert.match(text, /boundary F1 \(BF, tolerance 0\.75% of the diagonal/);
    assert.match(text, /void-valued predictions: 0/);
    // Without a truth folder, BF and Boundary IoU are not reported.
    fs.rmSync(path.join(data, 'truth'), { recursive: true });
    const noTruth = await evaluateDataset(predictor, data, { split: 'all', makeGap: 0, forbidden: [], classes });
    assert.equal(noTruth.frontier.bf, null);
    assert.doesNotMatch(formatReport(noTruth, classes), /boundary F1/);
    // The label files `predict` writes: counted from their values, none is void.
    const out = path.join(dir, 'out');
    const res = await predictStream(expandInputs([path.join(data, 'images')]), predictor, {
      outDir: out,
      forbidden: [],
      frontier: true,
      uncertainty: 0.9,
      strict: true,
      log: () => undefined,
    });
    assert.equal(res.predicted, 3);
    for (const f of fs.readdirSync(path.join(out, 'labels'))) {
      const lab = await readLabel(path.join(out, 'labels', f));
      assert.equal(countVoidValues(lab.values, classes.voidValues), 0);
      assert.ok(fs.existsSync(path.join(out, 'frontier', f.replace(/\.png$/, '.geojson'))));
      assert.ok(fs.existsSync(path.join(out, 'frontier', f.replace(/\.png$/, '.svg'))));
      assert.ok(fs.existsSync(path.join(out, 'uncertainty', f)));
    }
  } finally {
    predictor.dispose();
  }
});
