/**
 * Image and float-map resizing: bilinear with pixel centres aligned and edges clamped, box
 * averages when shrinking by more than 1.5, nearest neighbour for labels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bilinearAxis, resizeFloat, resizeImage, resizeNearest } from '../src/data/resize.js';

test('bilinearAxis aligns pixel centres and clamps at the edges', () => {
  const a = bilinearAxis(2, 4); // output centres at source -0.25, 0.25, 0.75, 1.25
  assert.deepEqual([...a.i0], [0, 0, 0, 1]);
  assert.deepEqual([...a.i1], [1, 1, 1, 1]);
  assert.deepEqual([...a.w], [0, 0.25, 0.75, 0]);
});

test('bilinear upscaling of a ramp interpolates it; the float resize is the unrounded twin', () => {
  // 2 x 1 image of two channels: channel 0 ramps 0 -> 100, channel 1 is constant 7.
  const src = new Uint8Array([0, 7, 100, 7]);
  const img = resizeImage(src, 2, 1, 2, 4, 2);
  assert.deepEqual([...img], [0, 7, 25, 7, 75, 7, 100, 7, 0, 7, 25, 7, 75, 7, 100, 7]);
  const f = resizeFloat(new Float32Array([0, 7, 10, 7]), 2, 1, 2, 4, 1);
  assert.deepEqual([...f], [0, 7, 2.5, 7, 7.5, 7, 10, 7]);
  const odd = resizeImage(new Uint8Array([0, 5]), 2, 1, 1, 4, 1);
  assert.deepEqual([...odd], [0, 1, 4, 5], '1.25 and 3.75 round to the nearest integer');
});

test('shrinking by more than 1.5 averages the source box of each output pixel', () => {
  const src = new Uint8Array([0, 10, 20, 30, 40, 50, 60, 70]); // 4 x 2, one channel
  assert.deepEqual([...resizeImage(src, 4, 2, 1, 2, 1)], [25, 45]);
  assert.deepEqual([...resizeImage(src, 4, 2, 1, 4, 2)], [...src], 'same size: a copy');
});

test('nearest-neighbour label resizing never invents a value', () => {
  const labels = new Uint8Array([1, 255, 2, 1]);
  const out = resizeNearest(labels, 2, 2, 5, 3);
  assert.ok([...out].every((v) => v === 1 || v === 2 || v === 255));
  assert.equal(out[0], 1);
  assert.equal(out[4], 255);
});
