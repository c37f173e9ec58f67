/**
 * Loading pairs into samples: size and label checks naming the files, scaling (bilinear
 * images, nearest labels), gaps made from full masks, and the statistics used for training.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseClassesFlag, VOID_INDEX } from '../src/data/classes.js';
import { assertSomeLabelled, channelStats, classCounts, loadSamples, type Sample } from '../src/data/load.js';
import { makeGap } from '../src/data/gaps.js';
import type { PairFiles } from '../src/data/dataset.js';
import { GapsegError } from '../src/util/errors.js';
import { rejectsUser, tmpDir, writePng } from './helpers.js';

const dir = tmpDir();
const classes = parseClassesFlag('0=background,255=smoke', ['128']);

/** Write an RGB image and a grey label of the given sizes; returns the pair. */
async function pair(
  name: string,
  img: { w: number; h: number; rgb?: Uint8Array },
  lab: { w: number; h: number; values?: Uint8Array },
  truth?: Uint8Array,
): Promise<PairFiles> {
  const image = path.join(dir, 'images', `${name}.png`);
  const label = path.join(dir, 'labels', `${name}.png`);
  await writePng(image, img.rgb ?? new Uint8Array(img.w * img.h * 3).fill(90), img.w, img.h, 3);
  await writePng(label, lab.values ?? new Uint8Array(lab.w * lab.h), lab.w, lab.h, 1);
  const p: PairFiles = { name, image, label };
  if (truth) {
    p.truth = path.join(dir, 'truth', `${name}.png`);
    await writePng(p.truth, truth, lab.w, lab.h, 1);
  }
  return p;
}

test('a label whose size differs from its image: the error names the label, the image and both sizes', async () => {
  const p = await pair('mismatch', { w: 8, h: 6 }, { w: 6, h: 8 });
  await rejectsUser(loadSamples([p], { classes, scale: 1 }), p.label, p.image, '6x8', '8x6');
});

test('a label value not in the class description names the label file and the value', async () => {
  const values = new Uint8Array(16);
  values[5] = 77;
  const p = await pair('unknown', { w: 4, h: 4 }, { w: 4, h: 4, values });
  await rejectsUser(loadSamples([p], { classes, scale: 1 }), p.label, 'label value 77', 'x=1, y=1');
});

test('a bad pair among good ones fails the load, naming the bad file', async () => {
  const good = await pair('good', { w: 4, h: 4 }, { w: 4, h: 4 });
  const bad = await pair('bad', { w: 4, h: 4 }, { w: 5, h: 4 });
  await rejectsUser(loadSamples([good, good, bad, good], { classes, scale: 1, concurrency: 2 }), bad.label);
});

test('with several bad files, the first in list order is named, whatever finishes first', async () => {
  // A large early pair takes longest to decode; the later bad pairs are tiny and fail first in time.
  const size = 1200;
  const values = new Uint8Array(size * size);
  values[size * size - 1] = 77;
  const slowBad = await pair('slow-bad', { w: size, h: size }, { w: size, h: size, values });
  const fastBad = await pair('fast-bad', { w: 4, h: 4 }, { w: 5, h: 4 });
  const good = await pair('good2', { w: 4, h: 4 }, { w: 4, h: 4 });
  for (let run = 0; run < 3; run++) {
    await rejectsUser(
      loadSamples([good, slowBad, fastBad, fastBad, good], { classes, scale: 1, concurrency: 3 }),
      slowBad.label,
      'label value 77',
    );
  }
  // Image and label both over the pixel limit: the image is named, though the label (smaller file) is read first.
  await rejectsUser(loadSamples([slowBad], { classes, scale: 1, limits: { maxPixels: 1000 } }), slowBad.image, 'pixel limit');
});

test('labels are encoded to class indices, void to VOID_INDEX; order and names are kept', async () => {
  const a = await pair('enc-a', { w: 3, h: 2 }, { w: 3, h: 2, values: new Uint8Array([0, 255, 128, 255, 0, 0]) });
  const b = await pair('enc-b', { w: 2, h: 2 }, { w: 2, h: 2, values: new Uint8Array([255, 255, 255, 128]) });
  const loaded: number[] = [];
  const s = await loadSamples([a, b], { classes, scale: 1, onLoaded: (done, total) => loaded.push(done * 10 + total) });
  assert.deepEqual(
    s.map((x) => x.name),
    ['enc-a', 'enc-b'],
  );
  assert.deepEqual([...s[0].labels], [0, 1, VOID_INDEX, 1, 0, 0]);
  assert.deepEqual([...s[1].labels], [1, 1, 1, VOID_INDEX]);
  assert.equal(s[0].truth, undefined);
  assert.deepEqual(loaded.sort(), [12, 22]);
  assert.deepEqual(classCounts(s, 2), [3, 5, 2]);
});

test('scale: the image is resized bilinearly and the labels by nearest neighbour', async () => {
  const w = 16;
  const h = 8;
  // A horizontal ramp (R), a vertical ramp (G), a constant (B); labels: vertical stripes.
  const rgb = new Uint8Array(w * h * 3);
  const lab = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      rgb.set([x * 10, y * 20, 77], (y * w + x) * 3);
      lab[y * w + x] = [0, 255, 128][Math.floor(x / 3) % 3];
    }
  }
  const p = await pair('scaled', { w, h, rgb }, { w, h, values: lab });
  for (const scale of [0.75, 1.5]) {
    const [s] = await loadSamples([p], { classes, scale });
    const nw = Math.round(w * scale);
    const nh = Math.round(h * scale);
    assert.equal(s.width, nw);
    assert.equal(s.height, nh);
    assert.equal(s.originalWidth, w);
    assert.equal(s.originalHeight, h);
    // Bilinear interpolation of a linear ramp is the ramp at the pixel centre's source position.
    const src = (o: number, n: number, nn: number) => Math.min(Math.max((o + 0.5) * (n / nn) - 0.5, 0), n - 1);
    for (let y = 0; y < nh; y++) {
      for (let x = 0; x < nw; x++) {
        const o = (y * nw + x) * 3;
        assert.ok(Math.abs(s.image[o] - 10 * src(x, w, nw)) <= 0.5 + 1e-9, `R at ${x},${y} scale ${scale}`);
        assert.ok(Math.abs(s.image[o + 1] - 20 * src(y, h, nh)) <= 0.5 + 1e-9, `G at ${x},${y} scale ${scale}`);
        assert.equal(s.image[o + 2], 77);
      }
    }
    // Nearest labels: only original class indices, each taken from the nearest source pixel.
    for (let y = 0; y < nh; y++) {
      for (let x = 0; x < nw; x++) {
        const sx = Math.min(w - 1, Math.floor(((x + 0.5) * w) / nw));
        assert.equal(s.labels[y * nw + x], [0, 1, VOID_INDEX][Math.floor(sx / 3) % 3], `label at ${x},${y} scale ${scale}`);
      }
    }
  }
});

test('scale 0.5 averages 2x2 blocks of the image and never invents label values', async () => {
  const w = 8;
  const h = 8;
  const rgb = new Uint8Array(w * h * 3);
  const lab = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) {
    rgb.set([(i % 2) * 200, 0, 0], 3 * i);
    lab[i] = (i * 7) % 3 === 0 ? 255 : (i * 7) % 3 === 1 ? 0 : 128;
  }
  const p = await pair('half', { w, h, rgb }, { w, h, values: lab });
  const [s] = await loadSamples([p], { classes, scale: 0.5 });
  assert.equal(s.width, 4);
  for (let i = 0; i < 16; i++) assert.equal(s.image[3 * i], 100);
  for (const v of s.labels) assert.ok(v === 0 || v === 1 || v === VOID_INDEX);
});

test('makeGap: labels are eroded at the training scale and the uneroded labels become the truth', async () => {
  const w = 12;
  const h = 10;
  const lab = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) lab[y * w + x] = x >= 6 ? 255 : 0;
  const p = await pair('gap', { w, h }, { w, h, values: lab });
  const [s] = await loadSamples([p], { classes, scale: 1, makeGap: 2 });
  const full = Uint8Array.from(lab, (v) => (v === 255 ? 1 : 0));
  assert.deepEqual([...(s.truth as Uint8Array)], [...full]);
  assert.deepEqual([...s.labels], [...makeGap(full, w, h, 2)]);
  for (let y = 0; y < h; y++)
    assert.deepEqual(Array.from(s.labels.subarray(y * w, (y + 1) * w)), [0, 0, 0, 0, 255, 255, 255, 255, 1, 1, 1, 1]);
  // A truth file, when present, stays the truth.
  const truth = new Uint8Array(w * h).fill(255);
  const q = await pair('gap-truth', { w, h }, { w, h, values: lab }, truth);
  const [t] = await loadSamples([q], { classes, scale: 1, makeGap: 2 });
  assert.deepEqual([...(t.truth as Uint8Array)], new Array(w * h).fill(1));
  // Without makeGap, a truth file is loaded as is.
  const [u] = await loadSamples([q], { classes, scale: 1 });
  assert.deepEqual([...u.labels], [...full]);
  assert.deepEqual([...(u.truth as Uint8Array)], new Array(w * h).fill(1));
});

test('assertSomeLabelled refuses an all-void data set, naming it', () => {
  const sample = (labels: Uint8Array): Sample => ({
    name: 'x',
    width: labels.length,
    height: 1,
    image: new Uint8Array(labels.length * 3),
    labels,
    originalWidth: labels.length,
    originalHeight: 1,
  });
  const allVoid = [sample(new Uint8Array(4).fill(VOID_INDEX)), sample(new Uint8Array(2).fill(VOID_INDEX))];
  assert.throws(
    () => assertSomeLabelled(allVoid, 'data/smoke'),
    (e: unknown) => e instanceof GapsegError && e.message.startsWith('data/smoke: ') && /void/.test(e.message),
  );
  assert.throws(() => assertSomeLabelled([], 'empty'), GapsegError);
  assertSomeLabelled([...allVoid, sample(new Uint8Array([VOID_INDEX, 0]))], 'data/smoke');
});

test('channelStats: per-channel mean and std on the 0..1 scale over every pixel of every sample', () => {
  // R: half 0, half 255 -> mean 0.5, std 0.5. G: 51 everywhere -> mean 0.2, std floored.
  // B: 0, 51, 102, 153 over two samples -> mean 0.3, std sqrt(0.05).
  const a: Sample = {
    name: 'a',
    width: 2,
    height: 1,
    image: new Uint8Array([0, 51, 0, 255, 51, 51]),
    labels: new Uint8Array(2),
    originalWidth: 2,
    originalHeight: 1,
  };
  const b: Sample = {
    name: 'b',
    width: 2,
    height: 1,
    image: new Uint8Array([0, 51, 102, 255, 51, 153]),
    labels: new Uint8Array(2),
    originalWidth: 2,
    originalHeight: 1,
  };
  const { mean, std } = channelStats([a, b]);
  const close = (x: number, y: number) => assert.ok(Math.abs(x - y) < 1e-9, `${x} vs ${y}`);
  close(mean[0], 0.5);
  close(mean[1], 0.2);
  close(mean[2], 0.3);
  close(std[0], 0.5);
  close(std[1], 1e-3);
  close(std[2], Math.sqrt(0.05));
});
