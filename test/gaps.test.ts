/** Making gaps by erosion, and the Euclidean distance transform under it, against brute force. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VOID_INDEX } from '../src/data/classes.js';
import { makeGap, squaredDistanceTo } from '../src/data/gaps.js';
import { makeRng } from '../src/util/random.js';

/** Brute-force erosion: void wherever a pixel of another value lies within distance px. */
function bruteGap(labels: Uint8Array, w: number, h: number, px: number): Uint8Array {
  const out = labels.slice();
  if (px <= 0) return out;
  const r = Math.ceil(px);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = labels[y * w + x];
      if (v === VOID_INDEX) continue;
      let near = false;
      for (let dy = -r; dy <= r && !near; dy++) {
        for (let dx = -r; dx <= r && !near; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= w || yy >= h || dx * dx + dy * dy > px * px) continue;
          if (labels[yy * w + xx] !== v) near = true;
        }
      }
      if (near) out[y * w + x] = VOID_INDEX;
    }
  }
  return out;
}

/** A w x h map of class 0 with a square of class 1 at [x0, x0+s) x [y0, y0+s). */
function square(w: number, h: number, x0: number, y0: number, s: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = y0; y < y0 + s; y++) for (let x = x0; x < x0 + s; x++) m[y * w + x] = 1;
  return m;
}

test('makeGap: a square of class 1 in class 0 gets a void band px wide on each side of its edge', () => {
  const w = 30;
  const h = 24;
  const labels = square(w, h, 10, 8, 10);
  for (const px of [1, 2, 3]) {
    const gap = makeGap(labels, w, h, px);
    // Along the row through the square's middle, the edge at x=10 (0|1) and x=20 (1|0).
    const row = Array.from(gap.subarray(13 * w, 14 * w));
    const expected = Array.from({ length: w }, (_, x) => {
      if (x >= 10 - px && x < 10 + px) return VOID_INDEX;
      if (x >= 20 - px && x < 20 + px) return VOID_INDEX;
      return x >= 10 && x < 20 ? 1 : 0;
    });
    assert.deepEqual(row, expected, `px=${px}`);
    // Nothing changes class; pixels only become void.
    for (let i = 0; i < w * h; i++) assert.ok(gap[i] === labels[i] || gap[i] === VOID_INDEX);
    // Far from the square nothing is touched, including at the image border.
    assert.equal(gap[0], 0);
    assert.equal(gap[w * h - 1], 0);
    assert.deepEqual([...gap], [...bruteGap(labels, w, h, px)], `px=${px} vs brute force`);
  }
});

test('makeGap: existing void stays void, and classes are also eroded away from it', () => {
  const w = 12;
  const h = 9;
  const labels = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) labels[y * w + x] = x < 4 ? 0 : x < 6 ? VOID_INDEX : 2;
  const gap = makeGap(labels, w, h, 1);
  for (let y = 0; y < h; y++) {
    assert.deepEqual(Array.from(gap.subarray(y * w, (y + 1) * w)), [
      0,
      0,
      0,
      VOID_INDEX,
      VOID_INDEX,
      VOID_INDEX,
      VOID_INDEX,
      2,
      2,
      2,
      2,
      2,
    ]);
  }
});

test('makeGap: px = 0 is a no-op copy, and the input is never modified', () => {
  const labels = square(8, 8, 2, 2, 3);
  const before = labels.slice();
  const same = makeGap(labels, 8, 8, 0);
  assert.deepEqual([...same], [...labels]);
  assert.notEqual(same, labels);
  makeGap(labels, 8, 8, 2);
  assert.deepEqual([...labels], [...before]);
});

test('makeGap on random multi-class maps equals brute force', () => {
  const rng = makeRng(7);
  for (let t = 0; t < 6; t++) {
    const w = 5 + Math.floor(rng.next() * 20);
    const h = 5 + Math.floor(rng.next() * 20);
    // Blocky random classes (0..2) with some void.
    const labels = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const r = (Math.floor(x / 4) * 7 + Math.floor(y / 3) * 3 + t) % 5;
        labels[y * w + x] = r < 3 ? r : r === 3 ? 1 : VOID_INDEX;
      }
    }
    for (const px of [1, 1.5, 2, 3])
      assert.deepEqual([...makeGap(labels, w, h, px)], [...bruteGap(labels, w, h, px)], `case ${t} px=${px}`);
  }
});

test('squaredDistanceTo equals brute force on random seeds and shapes', () => {
  const rng = makeRng(3);
  for (let t = 0; t < 8; t++) {
    const w = 1 + Math.floor(rng.next() * 17);
    const h = 1 + Math.floor(rng.next() * 17);
    const density = [0.02, 0.1, 0.5][t % 3];
    const seeds = Array.from({ length: w * h }, () => rng.next() < density);
    if (!seeds.some(Boolean)) seeds[Math.floor(rng.next() * w * h)] = true;
    const d = squaredDistanceTo((i) => seeds[i], w, h);
    for (let i = 0; i < w * h; i++) {
      let best = Infinity;
      for (let j = 0; j < w * h; j++) {
        if (!seeds[j]) continue;
        const dx = (i % w) - (j % w);
        const dy = Math.floor(i / w) - Math.floor(j / w);
        best = Math.min(best, dx * dx + dy * dy);
      }
      assert.equal(d[i], best, `case ${t} (${w}x${h}) pixel ${i}`);
    }
  }
});

test('squaredDistanceTo with no seed gives huge distances (nothing within any radius)', () => {
  const d = squaredDistanceTo(() => false, 6, 4);
  for (const v of d) assert.ok(v > 1e12);
  // So makeGap leaves a single-class map alone.
  const one = new Uint8Array(24).fill(1);
  assert.deepEqual([...makeGap(one, 6, 4, 3)], [...one]);
});

/** Void pixels on each side of the square's edge: [inside (class 1 eroded), outside (class 0 eroded)]. */
function sides(labels: Uint8Array, gapped: Uint8Array): [number, number] {
  let inside = 0;
  let outside = 0;
  for (let i = 0; i < labels.length; i++) if (gapped[i] === VOID_INDEX) labels[i] === 1 ? inside++ : outside++;
  return [inside, outside];
}

test('uneven gaps: the two sides of a boundary differ, the width varies along it and from image to image; the same seed gives the same gaps', () => {
  const [w, h] = [96, 96];
  const labels = square(w, h, 24, 24, 48);
  const even = makeGap(labels, w, h, 4);
  assert.deepEqual(makeGap(labels, w, h, 4, 0, 123), even, 'u = 0 is the symmetric gap whatever the seed');
  const ratios: number[] = [];
  const patterns = new Set<string>();
  for (let seed = 1; seed <= 6; seed++) {
    const g = makeGap(labels, w, h, 4, 0.75, seed);
    assert.deepEqual(makeGap(labels, w, h, 4, 0.75, seed), g, 'deterministic');
    for (let i = 0; i < labels.length; i++) if (g[i] !== VOID_INDEX) assert.equal(g[i], labels[i], 'labelled pixels keep their class');
    const [inside, outside] = sides(labels, g);
    ratios.push(inside / (outside || 1));
    patterns.add(Buffer.from(g).toString('base64'));
    // Along the top edge, the band inside the square is not one width.
    const widths = new Set<number>();
    for (let x = 28; x < 68; x++) {
      let n = 0;
      for (let y = 24; y < 72 && g[y * w + x] === VOID_INDEX; y++) n++;
      widths.add(n);
    }
    assert.ok(widths.size >= 2, `seed ${seed}: the inner band is ${[...widths]} px wide everywhere`);
  }
  assert.equal(patterns.size, 6, 'each image (seed) gets its own gaps');
  assert.ok(
    Math.max(...ratios) / Math.min(...ratios) > 1.5,
    `the inner/outer band ratio hardly varies: ${ratios.map((r) => r.toFixed(2))}`,
  );
  const [ei, eo] = sides(labels, even);
  assert.ok(Math.abs(ei / eo - 1) < 0.2, 'the symmetric gap is about equal on both sides (outer perimeter slightly longer)');
});
