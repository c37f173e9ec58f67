/**
 * Soak: many images predicted in one process, with each engine, leave memory flat: no tensor
 * left behind (TensorFlow.js), and resident memory, JS heap and array buffers of the later rounds
 * no higher than those of the first rounds (plus a tolerance for allocator noise). And a large
 * image is predicted in windows: the wasm heap does not grow with the image's size.
 * `npm test` runs a short soak; `npm run test:faults` a long one.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import { engine, tmpDir } from './helpers.js';
import { FULL } from './faultHelpers.js';
import { saveTinyModel, writeTestImage } from './predictHelpers.js';
import { exportOnnx } from '../src/formats/onnx/export.js';
import { openPredictor } from '../src/predict/open.js';
import { predictStream } from '../src/predict/stream.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let model = '';
let images: string[] = [];

/**
 * Images per round and rounds: a few hundred images per engine (a few thousand under
 * test:faults); ONNX Runtime, whose calls cross to its worker thread, gets more.
 */
const PER_ROUND = 30;
const ROUNDS = { tfjs: FULL ? 60 : 8, onnx: FULL ? 120 : 16 };

before(async () => {
  await engine();
  const dir = tmpDir();
  model = path.join(dir, 'model');
  await saveTinyModel(model, { depth: 2, width: 8, tile: 64 });
  await exportOnnx(model, { threads: 2, version: 'test' });
  const folder = path.join(dir, 'images');
  // Sizes vary, and some need several windows (tile 64).
  for (let i = 0; i < PER_ROUND; i++)
    await writeTestImage(path.join(folder, `s${String(i).padStart(3, '0')}.png`), 40 + (i % 7) * 13, 36 + (i % 5) * 17, i);
  images = fs.readdirSync(folder).map((f) => path.join(folder, f));
});

interface Sample {
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
  tensors: number;
  wasmHeap: number;
}

function sample(): Sample {
  gc();
  const m = process.memoryUsage();
  const backend = tf.getBackend() ? (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }) : null;
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    arrayBuffers: m.arrayBuffers,
    tensors: tf.memory().numTensors,
    wasmHeap: backend?.wasm?.HEAPU8.buffer.byteLength ?? 0,
  };
}

const MB = 1024 * 1024;

for (const engineName of ['tfjs', 'onnx'] as const) {
  const rounds = ROUNDS[engineName];
  test(
    `${rounds * PER_ROUND} images in one process (${engineName}): no tensor or buffer leak, flat memory`,
    { timeout: FULL ? 3_600_000 : 600_000 },
    async () => {
      const out = path.join(tmpDir(), 'out');
      const predictor = await openPredictor(model, { engine: engineName, threads: 2 });
      assert.equal(predictor.engine, engineName);
      const samples: Sample[] = [];
      try {
        for (let r = 0; r < rounds; r++) {
          const res = await predictStream(images, predictor, { outDir: out, forbidden: [], npy: r % 2 === 1, frontier: r % 3 === 2 });
          assert.equal(res.predicted, PER_ROUND);
          samples.push(sample());
        }
      } finally {
        predictor.dispose();
      }
      // A leak raises the floor: compare the lowest value of each half of the rounds after a
      // warm-up quarter (kernels, buffer pools and ONNX Runtime's arenas grow to their size then).
      const warm = Math.max(1, Math.floor(rounds / 4));
      const half = warm + Math.floor((rounds - warm) / 2);
      const first = samples.slice(warm, half);
      const second = samples.slice(half);
      const floor = (xs: Sample[], k: keyof Sample) => Math.min(...xs.map((s) => s[k]));
      const report = (k: keyof Sample) => `${k} floor ${(floor(first, k) / MB).toFixed(1)} -> ${(floor(second, k) / MB).toFixed(1)} MB`;
      console.log(`# array buffers after each round: ${samples.map((x) => (x.arrayBuffers / MB).toFixed(1)).join(' ')} MB`);
      console.log(
        `# soak ${engineName}, ${rounds * PER_ROUND} images: ${report('rss')}, ${report('heapUsed')}, ${report('arrayBuffers')}, tensors ${samples[0].tensors} -> ${samples[samples.length - 1].tensors}`,
      );
      for (const s of samples) assert.equal(s.tensors, samples[0].tensors, 'tensors left behind after a round');
      // Keeping one output buffer per image (tens of KB) would raise a floor by megabytes.
      assert.ok(floor(second, 'heapUsed') <= floor(first, 'heapUsed') + 4 * MB, report('heapUsed'));
      assert.ok(floor(second, 'arrayBuffers') <= floor(first, 'arrayBuffers') + 4 * MB, report('arrayBuffers'));
      assert.ok(floor(second, 'rss') <= floor(first, 'rss') + 32 * MB, report('rss'));
      if (engineName === 'tfjs')
        assert.equal(Math.max(...second.map((x) => x.wasmHeap)), Math.max(...first.map((x) => x.wasmHeap)), 'the wasm heap grew');
    },
  );
}

test('a large image is predicted in windows: the wasm heap does not grow with the image', { timeout: 600_000 }, async () => {
  const dir = tmpDir();
  // The first image already fills whole batches of whole windows; the second has 7 times its pixels.
  const small = path.join(dir, 'small.png');
  const large = path.join(dir, 'large.png');
  await writeTestImage(small, 600, 600, 1);
  await writeTestImage(large, 1800, 1400, 2);
  // Windows of 256: large enough to be quick, far smaller than the image.
  const predictor = await openPredictor(model, { engine: 'tfjs', threads: 2, tile: 256 });
  try {
    await predictStream([small], predictor, { outDir: path.join(dir, 'o1'), forbidden: [] });
    const afterSmall = sample().wasmHeap;
    await predictStream([large], predictor, { outDir: path.join(dir, 'o2'), forbidden: [] });
    const afterLarge = sample().wasmHeap;
    console.log(
      `# wasm heap after a 600 x 600 image: ${(afterSmall / MB).toFixed(0)} MB; after a 1800 x 1400 image: ${(afterLarge / MB).toFixed(0)} MB`,
    );
    // The whole image's logits alone would be 1800 * 1400 * 2 * 4 bytes = 20 MB.
    assert.ok(afterLarge - afterSmall < 10 * MB, `the wasm heap grew by ${((afterLarge - afterSmall) / MB).toFixed(1)} MB`);
  } finally {
    predictor.dispose();
  }
});
