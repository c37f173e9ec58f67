/**
 * Refinement at prediction time: the permutohedral lattice against a brute-force Gaussian, the
 * dense CRF moving a frontier onto the image's colour edge without ever reviving a forbidden
 * class, and `--refine crf` in predict (every output from the refined probabilities, ONNX
 * Runtime and TensorFlow.js alike), eval and the API.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildLattice } from '../src/crf/lattice.js';
import { DEFAULT_DENSE_CRF, denseCrfSettings, refineDenseCrf as refineProbs } from '../src/crf/denseCrf.js';
import { argmaxAllowed, planesOf } from '../src/predict/forbid.js';
import * as tf from '@tensorflow/tfjs-core';
import { openModel } from '../src/index.js';
import { makeRng } from '../src/util/random.js';
import { engine, errorLine, runCli, throwsUser, tmpDir, writePng } from './helpers.js';
import { foreignModel, halves, readGrey, readNpy, saveTinyModel, writeTestImage } from './predictHelpers.js';

before(engine);

/** The refined probabilities and their argmax over the allowed classes. */
function refineDenseCrf(...args: Parameters<typeof refineProbs>): { probs: Float32Array; classes: Uint8Array } {
  const probs = refineProbs(...args);
  const { width, height, numClasses } = args[0];
  return { probs, classes: argmaxAllowed(planesOf(probs, width * height, numClasses), args[1], width * height) };
}

/** Kernel-weighted means sum_j K v_j / sum_j K, K = exp(-|f_i - f_j|^2 / 2), exactly. */
function bruteMeans(f: Float32Array, v: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    let z = 0;
    for (let j = 0; j < n; j++) {
      let r = 0;
      for (let c = 0; c < d; c++) r += (f[i * d + c] - f[j * d + c]) ** 2;
      const w = Math.exp(-r / 2);
      s += w * v[j];
      z += w;
    }
    out[i] = s / z;
  }
  return out;
}

test('the permutohedral lattice: normalised filtering within a few hundredths of the exact Gaussian, in 2 and 5 dimensions', () => {
  const rng = makeRng(3);
  for (const [d, spread] of [
    [2, 3],
    [2, 10],
    [5, 1],
    [5, 3],
  ] as const) {
    const n = 300;
    const f = Float32Array.from({ length: n * d }, () => rng.next() * spread);
    const v = Float32Array.from({ length: n }, (_, i) => (f[i * d] > spread / 2 ? 1 : 0));
    const lattice = buildLattice(f, n, d);
    const sums = lattice.filter(v, 1);
    const norm = lattice.filter(new Float32Array(n).fill(1), 1);
    const exact = bruteMeans(f, v, n, d);
    let err = 0;
    for (let i = 0; i < n; i++) err += Math.abs(sums[i] / norm[i] - exact[i]);
    assert.ok(err / n < 0.03, `d ${d}, spread ${spread}: mean error ${(err / n).toFixed(4)}`);
    assert.ok(lattice.vertices < n * (d + 1), 'vertices are shared between points');
  }
  // Several values per point filter independently: the same as one at a time.
  const n = 50;
  const f = Float32Array.from({ length: n * 2 }, () => rng.next() * 4);
  const a = Float32Array.from({ length: n }, () => rng.next());
  const b = Float32Array.from({ length: n }, () => rng.next());
  const lattice = buildLattice(f, n, 2);
  const both = lattice.filter(
    Float32Array.from({ length: 2 * n }, (_, i) => (i % 2 ? b : a)[i >> 1]),
    2,
  );
  const fa = lattice.filter(a, 1);
  const fb = lattice.filter(b, 1);
  for (let i = 0; i < n; i++) {
    assert.ok(Math.abs(both[2 * i] - fa[i]) < 1e-5 && Math.abs(both[2 * i + 1] - fb[i]) < 1e-5);
  }
});

/** A w x h image dark left of `edge`, bright right of it, and class-1 probabilities crossing 0.5 at `frontier` (a logistic ramp of width `slope`). */
function edgeCase(w: number, h: number, edge: number, frontier: number, slope = 3, k = 2): { rgb: Uint8Array; probs: Float32Array } {
  const rng = makeRng(7);
  const rgb = new Uint8Array(w * h * 3);
  const probs = new Float32Array(w * h * k);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = (x < edge ? 60 : 180) + Math.floor(rng.next() * 8);
      const p1 = 1 / (1 + Math.exp(-(x + 0.5 - frontier) / slope));
      probs[i * k] = 1 - p1;
      probs[i * k + 1] = p1;
    }
  }
  return { rgb, probs };
}

/** The first column of class 1 in each row. */
function firstOf(classes: Uint8Array, w: number, h: number, c = 1): number[] {
  return Array.from({ length: h }, (_, y) => {
    for (let x = 0; x < w; x++) if (classes[y * w + x] === c) return x;
    return w;
  });
}

test('the dense CRF moves a frontier onto the colour edge; probabilities stay distributions; no kernel, no change', () => {
  const [w, h] = [64, 24];
  const { rgb, probs } = edgeCase(w, h, 24, 30);
  const r = refineDenseCrf({ width: w, height: h, rgb, probs, numClasses: 2 }, [0, 1], DEFAULT_DENSE_CRF);
  for (const x of firstOf(r.classes, w, h)) assert.equal(x, 24, 'the frontier lies on the colour edge');
  for (let i = 0; i < w * h; i++) assert.ok(Math.abs(r.probs[2 * i] + r.probs[2 * i + 1] - 1) < 1e-5);
  // Kernel widths are at the model's scale: the same picture at twice the size, with scale 2.
  const big = edgeCase(2 * w, 2 * h, 48, 60, 6);
  const r2 = refineDenseCrf({ width: 2 * w, height: 2 * h, rgb: big.rgb, probs: big.probs, numClasses: 2 }, [0, 1], DEFAULT_DENSE_CRF, 2);
  for (const x of firstOf(r2.classes, 2 * w, 2 * h)) assert.equal(x, 48);
  // Without kernels the probabilities and their argmax are the input's.
  const none = refineDenseCrf({ width: w, height: h, rgb, probs, numClasses: 2 }, [0, 1], {
    ...DEFAULT_DENSE_CRF,
    appearanceWeight: 0,
    smoothnessWeight: 0,
  });
  assert.deepEqual(none.probs, probs);
  for (const x of firstOf(none.classes, w, h)) assert.equal(x, 30);
});

test('the dense CRF never predicts a forbidden class, however probable it was', () => {
  const [w, h] = [32, 16];
  const { rgb, probs: two } = edgeCase(w, h, 12, 14);
  // Three classes, the third ("void") at 0.9 everywhere and forbidden.
  const probs = new Float32Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    probs[i * 3] = 0.1 * two[i * 2];
    probs[i * 3 + 1] = 0.1 * two[i * 2 + 1];
    probs[i * 3 + 2] = 0.9;
  }
  const r = refineDenseCrf({ width: w, height: h, rgb, probs, numClasses: 3 }, [0, 1], DEFAULT_DENSE_CRF);
  for (let i = 0; i < w * h; i++) {
    assert.notEqual(r.classes[i], 2);
    assert.equal(r.probs[i * 3 + 2], 0);
    assert.ok(Math.abs(r.probs[i * 3] + r.probs[i * 3 + 1] - 1) < 1e-5);
  }
  for (const x of firstOf(r.classes, w, h)) assert.equal(x, 12);
});

test('dense CRF settings: defaults, overrides, and one-line refusals', () => {
  assert.equal(denseCrfSettings(undefined), null);
  assert.equal(denseCrfSettings(false), null);
  assert.deepEqual(denseCrfSettings(true), DEFAULT_DENSE_CRF);
  assert.deepEqual(denseCrfSettings({ sigmaRGB: 5 }), { ...DEFAULT_DENSE_CRF, sigmaRGB: 5 });
  throwsUser(() => denseCrfSettings({ sigmaRgb: 5 } as never), 'unknown setting "sigmaRgb"', 'sigmaRGB');
  throwsUser(() => denseCrfSettings({ sigmaXY: 0 }), 'sigmaXY must be a positive number');
  throwsUser(() => denseCrfSettings({ appearanceWeight: -1 }), 'appearanceWeight must be a number >= 0');
  throwsUser(() => denseCrfSettings({ iterations: 2.5 }), 'iterations must be an integer');
});

test('predict --refine crf: labels, probabilities, .npy, frontier and band all from the refined probabilities; ONNX Runtime agrees; eval and the API refine too', async () => {
  const dir = tmpDir();
  const model = path.join(dir, 'model');
  await saveTinyModel(model, { depth: 2, width: 4 });
  await writeTestImage(path.join(dir, 'in', 'a.png'), 70, 50, 1);
  await writeTestImage(path.join(dir, 'in', 'b.png'), 64, 64, 2);
  const predict = async (out: string, extra: string[]) => {
    const r = await runCli([
      'predict',
      model,
      path.join(dir, 'in'),
      '--out',
      path.join(dir, out),
      '--quiet',
      '--npy',
      '--frontier',
      '--uncertainty',
      '0.9',
      ...extra,
    ]);
    assert.equal(r.code, 0, r.stderr);
  };
  await predict('plain', []);
  await predict('refined', ['--refine', 'crf', '--crf', 'sigmaRGB=20,appearanceWeight=6']);
  let changed = 0;
  for (const name of ['a', 'b']) {
    const out = path.join(dir, 'refined');
    const labels = await readGrey(path.join(out, 'labels', `${name}.png`));
    const prob = await readGrey(path.join(out, 'probs', `${name}.png`));
    const band = await readGrey(path.join(out, 'uncertainty', `${name}.png`));
    const npy = readNpy(path.join(out, 'npy', `${name}.npy`));
    const plain = readNpy(path.join(dir, 'plain', 'npy', `${name}.npy`));
    for (let i = 0; i < labels.data.length; i++) {
      const [p0, p1] = [npy.data[2 * i], npy.data[2 * i + 1]];
      assert.equal(labels.data[i], p1 > p0 ? 255 : 0, 'labels are the argmax of the refined probabilities');
      assert.ok(Math.abs(prob.data[i] - p1 * 255) <= 0.5 + 1e-3, 'the probability PNG is the refined probability');
      assert.equal(band.data[i], Math.max(p0, p1) < 0.9 ? 255 : 0, 'the band comes from the refined probabilities');
      if (Math.abs(p1 - plain.data[2 * i + 1]) > 0.05) changed++;
    }
    assert.ok(fs.readFileSync(path.join(out, 'frontier', `${name}.svg`), 'utf8').includes('<path'), 'a frontier is drawn');
  }
  assert.ok(changed > 100, `refinement changed ${changed} probabilities by more than 0.05`);
  // The same refined frontier from ONNX Runtime.
  const ex = await runCli(['export', model]);
  assert.equal(ex.code, 0, ex.stderr);
  await predict('onnx', ['--refine', 'crf', '--crf', 'sigmaRGB=20,appearanceWeight=6']);
  for (const name of ['a', 'b']) {
    const a = await readGrey(path.join(dir, 'refined', 'labels', `${name}.png`));
    const b = await readGrey(path.join(dir, 'onnx', 'labels', `${name}.png`));
    let differ = 0;
    for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) differ++;
    assert.ok(differ <= 2, `${name}: ${differ} refined label pixels differ between the engines`);
  }
  fs.rmSync(path.join(model, 'model.onnx'));
  // The API: the same refined probabilities as the command's .npy (8-bit PNG input, same decode).
  const m = await openModel(model, { log: () => undefined });
  try {
    const p = await m.predict(path.join(dir, 'in', 'a.png'), { refine: 'crf', crf: { sigmaRGB: 20, appearanceWeight: 6 } });
    const npy = readNpy(path.join(dir, 'refined', 'npy', 'a.npy'));
    let worst = 0;
    for (let i = 0; i < p.probabilities.length; i++) worst = Math.max(worst, Math.abs(p.probabilities[i] - npy.data[i]));
    assert.ok(worst < 1e-5, `API and command differ by ${worst}`);
    await assert.rejects(
      m.predict(path.join(dir, 'in', 'a.png'), { refine: 'crf', crf: { sigmaXY: -1 } }),
      /sigmaXY must be a positive number/,
    );
  } finally {
    m.close();
  }
  // eval --refine crf measures the refined predictions.
  const ds = path.join(dir, 'ds');
  for (const name of ['a', 'b']) {
    fs.mkdirSync(path.join(ds, 'images'), { recursive: true });
    fs.copyFileSync(path.join(dir, 'in', `${name}.png`), path.join(ds, 'images', `${name}.png`));
    const l = await readGrey(path.join(dir, 'refined', 'labels', `${name}.png`));
    await writePng(path.join(ds, 'labels', `${name}.png`), l.data, l.width, l.height, 1);
  }
  const ev = await runCli([
    'eval',
    model,
    ds,
    '--refine',
    'crf',
    '--crf',
    'sigmaRGB=20,appearanceWeight=6',
    '--classes',
    '0=background,255=smoke',
    '--json',
    path.join(dir, 'm.json'),
    '--quiet',
  ]);
  assert.equal(ev.code, 0, ev.stderr);
  const metrics = JSON.parse(fs.readFileSync(path.join(dir, 'm.json'), 'utf8')) as { report: { pixelAccuracy: number } };
  assert.ok(metrics.report.pixelAccuracy > 0.9999, `eval of refined labels against themselves: ${metrics.report.pixelAccuracy}`);
});

test('predict --refine crf with a foreign model whose void channel wins everywhere: void is never predicted', async () => {
  const dir = tmpDir();
  const model = path.join(dir, 'foreign.onnx');
  fs.writeFileSync(model, foreignModel({}));
  fs.writeFileSync(path.join(dir, 'codes.txt'), 'background\nsmoke\nvoid\n');
  const img = path.join(dir, 'in', 'halves.png');
  await halves(img);
  const r = await runCli([
    'predict',
    model,
    img,
    '--out',
    path.join(dir, 'out'),
    '--channel-file',
    path.join(dir, 'codes.txt'),
    '--refine',
    'crf',
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const labels = await readGrey(path.join(dir, 'out', 'labels', 'halves.png'));
  assert.ok(!labels.data.includes(2), 'void was predicted');
  assert.ok(labels.data.includes(0) && labels.data.includes(1));
});

test('--refine and --crf refusals are one line with exit code 2', async () => {
  const dir = tmpDir();
  const model = path.join(dir, 'model');
  await saveTinyModel(model, { depth: 2, width: 4 });
  await writeTestImage(path.join(dir, 'a.png'), 20, 20, 1);
  for (const [extra, pattern] of [
    [['--refine', 'bilateral'], /--refine must be auto, crf or none, got "bilateral"/],
    [['--crf', 'sigmaRGB=5'], /--crf goes with --refine crf/],
    [['--refine', 'crf', '--crf', 'sigmaRGB'], /--crf expects key=number, got "sigmaRGB"/],
    [['--refine', 'crf', '--crf', 'colour=3'], /unknown setting "colour"/],
  ] as const) {
    const r = await runCli(['predict', model, path.join(dir, 'a.png'), '--out', path.join(dir, 'out'), ...extra]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(errorLine(r.stderr, r.stderr), pattern);
  }
});
