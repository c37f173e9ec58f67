/** Metrics over labelled pixels only, on hand-computed cases. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VOID_INDEX } from '../src/data/classes.js';
import { accumulate, addConfusion, emptyConfusion, gapCounts, metricsFrom } from '../src/metrics/confusion.js';
import { addImage, emptyTotals, report } from '../src/metrics/evaluate.js';

const V = VOID_INDEX;
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

// Ten pixels, two void (their predictions must not count, whatever they are).
const truth = new Uint8Array([0, 0, 1, 1, 2, V, V, 0, 2, 1]);
const pred = new Uint8Array([0, 1, 1, 1, 0, 2, 0, 0, 2, 2]);

test('confusion: rows are true classes, columns predictions, void pixels skipped', () => {
  const c = emptyConfusion(3);
  accumulate(c, truth, pred);
  const m = metricsFrom(c);
  assert.deepEqual(m.confusion, [
    [2, 1, 0],
    [0, 2, 1],
    [1, 0, 1],
  ]);
  assert.equal(m.pixels, 8);
});

test('metricsFrom: pixel accuracy over labelled pixels, IoU, Dice, means (hand-computed)', () => {
  const c = emptyConfusion(3);
  accumulate(c, truth, pred);
  const m = metricsFrom(c);
  close(m.pixelAccuracy, 5 / 8);
  // class 0: tp 2, fp 1, fn 1; class 1: tp 2, fp 1, fn 1; class 2: tp 1, fp 1, fn 1.
  [0.5, 0.5, 1 / 3].forEach((v, i) => close(m.iou[i], v));
  [4 / 6, 4 / 6, 2 / 4].forEach((v, i) => close(m.dice[i], v));
  close(m.meanIoU, (0.5 + 0.5 + 1 / 3) / 3);
  close(m.meanDice, (4 / 6 + 4 / 6 + 0.5) / 3);
});

test('mean IoU skips classes absent from both truth and prediction; a class only predicted scores 0', () => {
  const c = emptyConfusion(5);
  accumulate(c, truth, pred);
  accumulate(c, new Uint8Array([V, 0]), new Uint8Array([4, 4])); // class 4: predicted once on a labelled pixel
  const m = metricsFrom(c);
  assert.ok(Number.isNaN(m.iou[3]) && Number.isNaN(m.dice[3]), 'class 3 never seen: undefined');
  assert.equal(m.iou[4], 0);
  assert.equal(m.dice[4], 0);
  assert.equal(m.pixels, 9);
  close(m.pixelAccuracy, 5 / 9);
  // class 0 now has one more false negative: IoU 2/5.
  close(m.iou[0], 2 / 5);
  close(m.meanIoU, (2 / 5 + 0.5 + 1 / 3 + 0) / 4);
});

test('nothing labelled: no pixels, accuracy and means are NaN (never a made-up number)', () => {
  const c = emptyConfusion(2);
  accumulate(c, new Uint8Array([V, V, V]), new Uint8Array([0, 1, 1]));
  const m = metricsFrom(c);
  assert.equal(m.pixels, 0);
  assert.ok(Number.isNaN(m.pixelAccuracy));
  assert.ok(Number.isNaN(m.meanIoU));
  assert.ok(m.iou.every(Number.isNaN));
});

test('accumulate refuses a non-class prediction on a labelled pixel and mismatched lengths', () => {
  const c = emptyConfusion(2);
  assert.throws(() => accumulate(c, new Uint8Array([0, 1]), new Uint8Array([0, V])), /not a real class/);
  assert.throws(() => accumulate(c, new Uint8Array([0, 1]), new Uint8Array([0, 2])), /not a real class/);
  assert.throws(() => accumulate(c, new Uint8Array([0, 1]), new Uint8Array([0])), /2 labels vs 1/);
});

test('addConfusion sums matrices: the same metrics as accumulating everything into one', () => {
  const a = emptyConfusion(3);
  const b = emptyConfusion(3);
  const both = emptyConfusion(3);
  accumulate(a, truth.subarray(0, 5), pred.subarray(0, 5));
  accumulate(b, truth.subarray(5), pred.subarray(5));
  accumulate(both, truth, pred);
  assert.deepEqual(metricsFrom(addConfusion(a, b)), metricsFrom(both));
});

test('gapCounts: only pixels void in the labels and real in the full truth count', () => {
  const labels = new Uint8Array([0, V, V, V, 1, V]);
  const full = new Uint8Array([0, 0, 1, V, 1, 1]);
  const p = new Uint8Array([1, 0, 0, 1, 0, 1]);
  // Gap pixels: 1 (truth 0, pred 0: right), 2 (truth 1, pred 0: wrong), 5 (truth 1, pred 1: right).
  assert.deepEqual(gapCounts(labels, full, p), { correct: 2, total: 3 });
});

test('evaluate report: labelled-pixel metrics, gap accuracy from images with truth, null without', () => {
  const t = emptyTotals(3);
  addImage(t, truth, pred);
  let r = report(t);
  assert.equal(r.images, 1);
  assert.equal(r.gapAccuracy, null);
  assert.equal(r.gapPixels, 0);
  close(r.pixelAccuracy, 5 / 8);
  // A second image with a full truth: its gap (pixels 1, 2) is half right.
  addImage(t, new Uint8Array([0, V, V]), new Uint8Array([0, 2, 1]), new Uint8Array([0, 2, 0]));
  r = report(t);
  assert.equal(r.images, 2);
  assert.equal(r.gapPixels, 2);
  close(r.gapAccuracy as number, 0.5);
  assert.equal(r.pixels, 9);
  close(r.pixelAccuracy, 6 / 9);
});
