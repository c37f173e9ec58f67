/**
 * Augmentation: reproducible from the rng, labels never blended, the same geometric
 * transform on image and labels for all eight symmetries, void outside the image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VOID_INDEX } from '../src/data/classes.js';
import { augmentedCrop, DEFAULT_AUGMENT, normalizeInto, sampleCrop, type AugmentOptions } from '../src/data/augment.js';
import type { Sample } from '../src/data/load.js';
import { makeRng } from '../src/util/random.js';

/**
 * A sample whose image encodes its labels: red 200 where class 1, 0 where class 0, and
 * green/blue carry the pixel position so that any geometric mix-up shows.
 */
function encodedSample(w: number, h: number, labelAt: (x: number, y: number) => number): Sample {
  const image = new Uint8Array(w * h * 3);
  const labels = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const c = labelAt(x, y);
      labels[y * w + x] = c;
      image.set([c === 1 ? 200 : c === VOID_INDEX ? 100 : 0, x * 4, y * 4], (y * w + x) * 3);
    }
  }
  return { name: 's', width: w, height: h, image, labels, originalWidth: w, originalHeight: h };
}

/** An asymmetric shape: an L of class 1, some void, class 0 elsewhere. */
const shape = (x: number, y: number) =>
  (x >= 5 && x < 9 && y >= 3 && y < 20) || (y >= 16 && y < 20 && x >= 5 && x < 18) ? 1 : x > 20 && y < 4 ? VOID_INDEX : 0;

const OPTS: AugmentOptions = { size: 16, ...DEFAULT_AUGMENT };

test('augmentedCrop is deterministic for a given rng seed, and varies with the seed', () => {
  const s = encodedSample(40, 30, shape);
  const crops = (seed: number) => {
    const rng = makeRng(seed);
    return Array.from({ length: 5 }, () => augmentedCrop(s, rng, OPTS));
  };
  const a = crops(11);
  const b = crops(11);
  const c = crops(12);
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(a[i].image, b[i].image);
    assert.deepEqual(a[i].labels, b[i].labels);
    assert.equal(a[i].image.length, 16 * 16 * 3);
    assert.equal(a[i].labels.length, 16 * 16);
  }
  assert.ok(
    a.some((x, i) => !x.image.every((v, j) => v === c[i].image[j])),
    'another seed gives other crops',
  );
});

test('label values are never blended: only source values or VOID_INDEX appear', () => {
  // Classes 0, 2, 7 in a fine checkerboard with void, so any averaging would show.
  const vals = [0, 2, 7, VOID_INDEX];
  const s = encodedSample(23, 17, (x, y) => vals[(x + 2 * y) % 4]);
  const rng = makeRng(5);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) for (const v of augmentedCrop(s, rng, { ...OPTS, size: 16, scaleRange: [0.5, 2] }).labels) seen.add(v);
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    [0, 2, 7, VOID_INDEX],
  );
});

/** Where output pixel (u, v) of symmetry `sym` reads from, in crop coordinates. */
function expectedSource(sym: number, u: number, v: number, n: number): [number, number] {
  let x = u;
  let y = v;
  if (sym & 1) x = n - 1 - x;
  if (sym & 2) y = n - 1 - y;
  if (sym & 4) [x, y] = [y, x];
  return [x, y];
}

test('image and labels get the same geometric transform, for all eight symmetries', () => {
  const s = encodedSample(30, 26, shape);
  const size = 16;
  const [ox, oy] = [3, 2];
  const outputs = new Set<string>();
  for (let sym = 0; sym < 8; sym++) {
    const crop = sampleCrop(s, ox, oy, size, sym, 0, 1, size);
    outputs.add(Array.from(crop.labels).join(','));
    for (let v = 0; v < size; v++) {
      for (let u = 0; u < size; u++) {
        const o = v * size + u;
        const lab = crop.labels[o];
        const [r, g, b] = crop.image.subarray(3 * o, 3 * o + 3);
        // Image and label agree...
        assert.equal(r, lab === 1 ? 200 : lab === VOID_INDEX ? 100 : 0, `sym ${sym} at (${u}, ${v})`);
        // ...and both come from the transformed source position.
        const [cx, cy] = expectedSource(sym, u, v, size);
        assert.equal(lab, s.labels[(oy + cy) * s.width + ox + cx]);
        assert.deepEqual([g, b], [(ox + cx) * 4, (oy + cy) * 4]);
      }
    }
  }
  assert.equal(outputs.size, 8, 'the eight symmetries give eight different crops of an asymmetric shape');
});

test('image and labels agree under scaling too, away from class edges', () => {
  const s = encodedSample(40, 40, (x, y) => ((x >> 3) + (y >> 3)) % 2);
  for (const [side, sym] of [
    [24, 0],
    [24, 5],
    [10, 3],
    [13, 6],
  ] as const) {
    const crop = sampleCrop(s, 4.3, 6.7, side, sym, 0, 1, 16);
    let agreed = 0;
    for (let o = 0; o < 256; o++) {
      const r = crop.image[3 * o];
      // Bilinear image values between 0 and 200 lie on an edge; elsewhere the class must match.
      if (r === 0 || r === 200) {
        assert.equal(crop.labels[o], r === 200 ? 1 : 0, `side ${side} sym ${sym} pixel ${o}`);
        agreed++;
      }
    }
    assert.ok(agreed > 128, `most pixels are away from edges (${agreed})`);
  }
});

test('pixels outside the image become void (labels), black (image) and invalid (mask)', () => {
  const s = encodedSample(12, 10, () => 1);
  const crop = sampleCrop(s, -4, -3, 16, 0, 0, 1, 16);
  for (let v = 0; v < 16; v++) {
    for (let u = 0; u < 16; u++) {
      const o = v * 16 + u;
      const x = u - 4;
      const y = v - 3;
      const inside = x >= 0 && y >= 0 && x < 12 && y < 10;
      assert.equal(crop.labels[o], inside ? 1 : VOID_INDEX, `label at (${u}, ${v})`);
      assert.equal(crop.valid[o], inside ? 1 : 0, `validity at (${u}, ${v})`);
      if (!inside) assert.deepEqual([...crop.image.subarray(3 * o, 3 * o + 3)], [0, 0, 0]);
      else assert.equal(crop.image[3 * o], 200);
    }
  }
  // A sample smaller than the crop always gets void around it, with random crops too.
  const small = encodedSample(8, 8, () => 0);
  const rng = makeRng(2);
  for (let i = 0; i < 10; i++) {
    const c = augmentedCrop(small, rng, { ...OPTS, size: 32 });
    const voids = c.labels.filter((v) => v === VOID_INDEX).length;
    assert.ok(voids > 0 && voids < 32 * 32, `crop ${i}: ${voids} void pixels`);
    for (const v of c.labels) assert.ok(v === 0 || v === VOID_INDEX);
    // The sample has no void of its own, so invalid pixels are exactly the void ones.
    c.labels.forEach((v, i) => assert.equal(c.valid[i], v === VOID_INDEX ? 0 : 1));
  }
});

test('void labels inside the image stay valid: validity is about the crop, not the labels', () => {
  const s = encodedSample(30, 26, shape);
  const crop = sampleCrop(s, 10, 0, 16, 0, 0, 1, 16);
  assert.ok(
    crop.labels.some((v) => v === VOID_INDEX),
    'the crop holds void labels',
  );
  assert.ok(crop.valid.every((v) => v === 1));
});

test('brightness and contrast change the image only, never the labels', () => {
  const s = encodedSample(20, 20, shape);
  const plain = sampleCrop(s, 1, 1, 16, 2, 0, 1, 16);
  const jittered = sampleCrop(s, 1, 1, 16, 2, 30, 1.3, 16);
  assert.deepEqual(jittered.labels, plain.labels);
  for (let i = 0; i < plain.image.length; i++) {
    const want = Math.min(255, Math.max(0, Math.round((plain.image[i] - 128) * 1.3 + 128 + 30)));
    assert.equal(jittered.image[i], want);
  }
});

test('normalizeInto: (v/255 - mean) / std per channel, at an offset', () => {
  const dst = new Float32Array(8).fill(-9);
  normalizeInto(dst, 2, new Uint8Array([0, 255, 51, 255, 0, 102]), [0.5, 0.5, 0.2], [0.5, 0.25, 0.1]);
  const want = [-9, -9, -1, 2, 0, 1, -2, 2];
  dst.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `${i}: ${v} vs ${want[i]}`));
});

test('class balance: crops centred on a drawn class show a tiny object far more often than uniform crops', () => {
  // A 3x3 object in a 64x64 image: uniform 16x16 crops seldom contain it.
  const tiny = (x: number, y: number) => (x >= 40 && x < 43 && y >= 10 && y < 13 ? 1 : 0);
  const sample = encodedSample(64, 64, tiny);
  const opts = { ...OPTS, scaleRange: [1, 1] as [number, number] };
  const share = (classBalance: number) => {
    let hits = 0;
    for (let i = 0; i < 400; i++) {
      const crop = augmentedCrop(sample, makeRng(1000 + i), { ...opts, classBalance });
      if (crop.labels.includes(1)) hits++;
    }
    return hits / 400;
  };
  const uniform = share(0);
  const balanced = share(1);
  // Half the balanced crops are centred on the object (2 classes present, drawn uniformly).
  assert.ok(balanced >= 0.45, `balanced crops hold the object ${balanced}`);
  assert.ok(uniform < 0.2, `uniform crops hold the object ${uniform}`);
  assert.ok(balanced > 2 * uniform);
});

test('gap crops: class-balanced crops also centre on void, as one more group drawn after the classes, exactly as a crop of the same sample with void as a class', () => {
  // A 3x3 void patch in a 64x64 image, two classes elsewhere: uniform 16x16 crops seldom hold the void.
  const patch = (x: number, y: number) => (x >= 40 && x < 43 && y >= 10 && y < 13 ? VOID_INDEX : x < 32 ? 0 : 1);
  const sample = encodedSample(64, 64, patch);
  // The same sample with void as class 2, as the void-as-a-class fix loads it.
  const asClass = { ...sample, labels: sample.labels.map((c) => (c === VOID_INDEX ? 2 : c)) };
  const opts = { ...OPTS, scaleRange: [1, 1] as [number, number], classBalance: 1 };
  let withVoid = 0;
  let without = 0;
  for (let i = 0; i < 300; i++) {
    const crop = augmentedCrop(sample, makeRng(2000 + i), { ...opts, gapCrops: true });
    const fix = augmentedCrop(asClass, makeRng(2000 + i), opts);
    // Crops lie inside the image here, so the crop's only void is the patch.
    assert.deepEqual(
      crop.labels.map((c) => (c === VOID_INDEX ? 2 : c)),
      fix.labels,
      `crop ${i} is not the fix's crop`,
    );
    if (crop.labels.includes(VOID_INDEX)) withVoid++;
    if (augmentedCrop(sample, makeRng(2000 + i), opts).labels.includes(VOID_INDEX)) without++;
  }
  // A third of the crops are centred on the void patch (three groups drawn uniformly).
  assert.ok(withVoid / 300 >= 0.3, `gap crops hold the void ${withVoid / 300}`);
  assert.ok(without < withVoid / 2, `class-only crops hold the void ${without / 300}, gap crops ${withVoid / 300}`);
});
