import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classOutline, isoLines, pathData } from '../src/draw/contour.js';
import {
  VOID,
  argmaxDecision,
  classLayer,
  classLayerRect,
  decideClasses,
  imageMetrics,
  share,
  unsurePixels,
  voidLayer,
  voidLayerRect,
} from '../src/draw/layers.js';
import { LabelHistory } from '../src/view/page/paint.js';
import { frontierLines } from '../src/draw/frontierLayer.js';
import { addImage, emptyTotals, report } from '../src/metrics/evaluate.js';
import { makeRng } from '../src/util/random.js';

function disc(w: number, h: number, cx: number, cy: number, r: number): Float32Array {
  const f = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) f[y * w + x] = r - Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
  return f;
}

test('iso-line of a cone is one closed ring at its radius', () => {
  const lines = isoLines(disc(40, 30, 20, 15, 9), 40, 30, 0);
  assert.equal(lines.length, 1);
  const l = lines[0];
  assert.ok(Math.abs(l[0] - l[l.length - 2]) < 1e-9 && Math.abs(l[1] - l[l.length - 1]) < 1e-9, 'ring is closed');
  for (let i = 0; i < l.length; i += 2) {
    const d = Math.hypot(l[i] - 20, l[i + 1] - 15);
    assert.ok(Math.abs(d - 9) < 0.05, `point at distance ${d}`);
  }
});

test('iso-line of a ramp is a straight line where the ramp crosses the level, and moves with it', () => {
  const w = 10;
  const h = 6;
  const f = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) f[y * w + x] = x / (w - 1);
  for (const level of [0.3, 0.5, 0.8]) {
    const lines = isoLines(f, w, h, level);
    assert.equal(lines.length, 1);
    const xs = lines[0].filter((_, i) => i % 2 === 0);
    const expected = level * (w - 1) + 0.5;
    for (const x of xs) assert.ok(Math.abs(x - expected) < 1e-6, `x ${x} vs ${expected}`);
    assert.equal(xs.length, h, 'one point per pixel row');
  }
});

test('class outline of a block runs along its pixel edges', () => {
  const w = 8;
  const classes = new Uint8Array(w * w);
  for (let y = 2; y < 5; y++) for (let x = 3; x < 7; x++) classes[y * w + x] = 1;
  const lines = classOutline(classes, w, w);
  assert.equal(lines.length, 1);
  let length = 0;
  const l = lines[0];
  for (let i = 2; i < l.length; i += 2) length += Math.hypot(l[i] - l[i - 2], l[i + 1] - l[i - 1]);
  assert.equal(length, 2 * (3 + 4));
  assert.match(pathData(lines), /^M\d/);
});

test('decided classes never include a forbidden class or void, and the threshold moves the focus region', () => {
  const rng = makeRng(3);
  const n = 500;
  const k = 3;
  const probs = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < k; c++) s += probs[i * k + c] = rng.next();
    for (let c = 0; c < k; c++) probs[i * k + c] /= s;
  }
  const forbidSecond = decideClasses(probs, n, k, { allowed: [true, false, true], threshold: null, focus: 2 });
  assert.ok(forbidSecond.every((c) => c === 0 || c === 2));
  const argmax = decideClasses(probs, n, k, argmaxDecision(k));
  for (let i = 0; i < n; i++) {
    const row = Array.from(probs.subarray(i * k, i * k + k));
    assert.equal(argmax[i], row.indexOf(Math.max(...row)));
  }
  const count = (t: number) =>
    decideClasses(probs, n, k, { allowed: [true, true, true], threshold: t, focus: 2 }).filter((c) => c === 2).length;
  assert.ok(count(0.2) > count(0.4) && count(0.4) > count(0.7), 'higher threshold, smaller focus region');
  // Two classes: threshold 0.5 is the argmax.
  const p2 = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    p2[2 * i + 1] = rng.next();
    p2[2 * i] = 1 - p2[2 * i + 1];
  }
  const half = decideClasses(p2, n, 2, { allowed: [true, true], threshold: 0.5, focus: 1 });
  for (let i = 0; i < n; i++) assert.equal(half[i], p2[2 * i + 1] >= 0.5 ? 1 : 0);
  assert.throws(() => decideClasses(p2, n, 2, { allowed: [false, false], threshold: null, focus: 1 }), /every class is forbidden/);
});

test('per-image metrics agree with the evaluation module, void excluded', () => {
  const rng = makeRng(9);
  const n = 2000;
  const k = 3;
  const labels = new Uint8Array(n);
  const truth = new Uint8Array(n);
  const pred = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    truth[i] = Math.floor(rng.next() * k);
    labels[i] = rng.next() < 0.3 ? VOID : truth[i];
    pred[i] = rng.next() < 0.7 ? truth[i] : Math.floor(rng.next() * k);
  }
  const t = emptyTotals(k);
  addImage(t, labels, pred, truth);
  const r = report(t);
  const m = imageMetrics(labels, pred, k, truth);
  assert.equal(m.labelled, r.pixels);
  assert.ok(Math.abs(m.accuracy - r.pixelAccuracy) < 1e-12);
  assert.ok(Math.abs(m.meanIoU - r.meanIoU) < 1e-12);
  assert.ok(Math.abs((m.gapAccuracy as number) - (r.gapAccuracy as number)) < 1e-12);
});

test('layers: black classes stay transparent, void is hatched and only void', () => {
  const labels = new Uint8Array([0, 1, VOID, VOID, 1, 0]);
  const cl = classLayer(labels, [
    [0, 0, 0],
    [230, 25, 75],
  ]);
  assert.deepEqual([cl[3], cl[7], cl[11]], [0, 255, 0]);
  const v = voidLayer(labels, 3);
  const alpha = [0, 1, 2, 3, 4, 5].map((i) => v[i * 4 + 3]);
  assert.deepEqual(
    alpha.map((a) => a > 0),
    [false, false, true, true, false, false],
  );
});

test('frontier of two classes follows the threshold; with three it is the class outline', () => {
  const w = 12;
  const h = 4;
  const probs = new Float32Array(w * h * 2);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const p = x / (w - 1);
      probs[(y * w + x) * 2 + 1] = p;
      probs[(y * w + x) * 2] = 1 - p;
    }
  const classes = decideClasses(probs, w * h, 2, argmaxDecision(2));
  const at = (t: number) =>
    frontierLines({ probs, width: w, height: h, numClasses: 2, classes }, { allowed: [true, true], threshold: t, focus: 1 })[0][0];
  assert.ok(Math.abs(at(0.5) - (0.5 * (w - 1) + 0.5)) < 1e-6);
  assert.ok(at(0.8) > at(0.5));
  assert.deepEqual(
    frontierLines({ probs, width: w, height: h, numClasses: 2, classes }, { allowed: [true, false], threshold: 0.5, focus: 1 }),
    [],
  );
  const three = new Uint8Array(w * h).map((_, i) => (i % w < 4 ? 0 : i % w < 8 ? 1 : 2));
  const lines = frontierLines(
    { probs: new Float32Array(w * h * 3), width: w, height: h, numClasses: 3, classes: three },
    argmaxDecision(3),
  );
  assert.equal(lines.length, 2);
});

test('unsure pixels: the two most probable allowed classes within 0.5; a forbidden class does not count', () => {
  // Pixels of 3 classes: sure, unsure (0.6 / 0.4), and unsure only while class 2 is allowed.
  const probs = Float32Array.from([0.9, 0.05, 0.05, 0.6, 0.4, 0, 0.45, 0.1, 0.45]);
  assert.deepEqual([...unsurePixels(probs, 3, 3, [true, true, true])], [0, 1, 1]);
  assert.deepEqual([...unsurePixels(probs, 3, 3, [true, true, false])], [0, 1, 0], 'without class 2, pixel 3 is 0.82 against 0.18');
  assert.equal(share(Uint8Array.from([1, 0, 1, 0])), 0.5);
});

test('painting: a stroke records each changed pixel once, undo and redo restore exactly, rectangles redraw what the full layers draw', () => {
  const [w, h] = [40, 30];
  const labels = new Uint8Array(w * h).fill(VOID);
  const hist = new LabelHistory(labels, w, h);
  const s = hist.begin(1);
  const r1 = s.segment(5, 5, 30, 5, 3)!;
  const r2 = s.segment(30, 5, 30, 20, 3)!;
  assert.ok(r1.w > 25 && r1.h >= 6 && r2.h > 15, JSON.stringify([r1, r2]));
  const stroke = s.finish()!;
  assert.equal(stroke.indices.length, new Set(stroke.indices).size, 'each pixel once, where the segments overlap too');
  assert.equal(stroke.indices.length, labels.filter((k) => k === 1).length);
  hist.push(stroke);
  const painted = Uint8Array.from(labels);
  const e = hist.begin(VOID);
  e.segment(20, 5, 20, 5, 2);
  hist.push(e.finish());
  assert.notDeepEqual([...labels], [...painted]);
  assert.ok(hist.dirty());
  hist.undo();
  assert.deepEqual([...labels], [...painted], 'undo restores exactly');
  hist.redo();
  assert.equal(labels[5 * w + 20], VOID, 'redo erases again');
  hist.undo();
  hist.undo();
  assert.ok(labels.every((k) => k === VOID) && !hist.canUndo(), 'back to the start');
  hist.saved();
  assert.ok(!hist.dirty());
  hist.redo();
  const colors = [
    [0, 0, 0],
    [200, 10, 10],
  ] as const;
  const full = classLayer(labels, colors);
  const hatch = voidLayer(labels, w);
  const r = { x: 3, y: 2, w: 11, h: 7 };
  const part = classLayerRect(labels, w, r, colors);
  const partVoid = voidLayerRect(labels, w, r);
  for (let y = 0; y < r.h; y++) {
    for (let x = 0; x < r.w; x++) {
      const i = ((r.y + y) * w + r.x + x) * 4;
      const j = (y * r.w + x) * 4;
      assert.deepEqual([...part.subarray(j, j + 4)], [...full.subarray(i, i + 4)]);
      assert.deepEqual([...partVoid.subarray(j, j + 4)], [...hatch.subarray(i, i + 4)]);
    }
  }
});
