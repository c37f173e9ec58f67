/** The painter's large-area tools (src/view/page/regions.ts): a fill through similar colours, a polygon's inside. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { polygonInterior, similarRegion } from '../src/view/page/regions.js';
import { LabelHistory } from '../src/view/page/paint.js';

/** RGBA pixels: a 6 x 4 red block at (2, 1) on blue, and one reddish pixel apart from it. */
function picture(): { rgba: Uint8ClampedArray; w: number; h: number } {
  const [w, h] = [12, 8];
  const rgba = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const red = (x >= 2 && x < 8 && y >= 1 && y < 5) || (x === 11 && y === 7);
      rgba.set(red ? [200, 30 + x, 20, 255] : [20, 40, 210, 255], (y * w + x) * 4);
    }
  return { rgba, w, h };
}

test('fill: the connected pixels within the tolerance of the clicked colour, not a similar pixel elsewhere', () => {
  const { rgba, w, h } = picture();
  const region = Array.from(similarRegion(rgba, w, h, 3, 2, 10)).sort((a, b) => a - b);
  const block: number[] = [];
  for (let y = 1; y < 5; y++) for (let x = 2; x < 8; x++) block.push(y * w + x);
  assert.deepEqual(region, block);
  // A tight tolerance stops at the shading; outside the image, nothing.
  assert.ok(similarRegion(rgba, w, h, 2, 1, 2).length < block.length);
  assert.equal(similarRegion(rgba, w, h, -1, 0, 10).length, 0);
  // The blue around the block, everything else but the two red parts.
  assert.equal(similarRegion(rgba, w, h, 0, 0, 10).length, w * h - block.length - 1);
});

test('polygon: pixel centres inside, even-odd, clipped to the image; fewer than 3 points: nothing', () => {
  const square = polygonInterior(
    [
      [1, 1],
      [5, 1],
      [5, 4],
      [1, 4],
    ],
    10,
    10,
  );
  const expected: number[] = [];
  for (let y = 1; y < 4; y++) for (let x = 1; x < 5; x++) expected.push(y * 10 + x);
  assert.deepEqual(Array.from(square), expected);
  const clipped = polygonInterior(
    [
      [-5, -5],
      [20, -5],
      [20, 3],
      [-5, 3],
    ],
    10,
    10,
  );
  assert.equal(clipped.length, 30);
  assert.equal(
    polygonInterior(
      [
        [0, 0],
        [3, 3],
      ],
      10,
      10,
    ).length,
    0,
  );
});

test('a fill is one stroke: undone and redone whole', () => {
  const { rgba, w, h } = picture();
  const labels = new Uint8Array(w * h).fill(255);
  const history = new LabelHistory(labels, w, h);
  const b = history.begin(1);
  assert.deepEqual(b.pixels(similarRegion(rgba, w, h, 3, 2, 10)), { x: 2, y: 1, w: 6, h: 4 });
  history.push(b.finish());
  assert.equal(labels.filter((c) => c === 1).length, 24);
  history.undo();
  assert.ok(labels.every((c) => c === 255));
  history.redo();
  assert.equal(labels.filter((c) => c === 1).length, 24);
});
