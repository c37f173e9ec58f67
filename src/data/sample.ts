/**
 * The built-in sample: a seeded generator of smoke-like images. Each image has a textured
 * background and one to three fuzzy, semi-transparent blobs with soft edges. The full truth
 * is "blob opacity above half its peak"; the labels are made as annotators make them:
 * "surely object", "surely not object", and a void band of a few pixels between them.
 *
 * Label values: 0 = background, 255 = smoke, 128 = void (unlabelled), described in the
 * written gapseg.json. Full masks go to truth/ for frontier metrics.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeRng, normal, uniform, type Rng } from '../util/random.js';
import { writeFileAtomic } from '../util/atomic.js';
import { makeGap } from './gaps.js';
import { encodePng } from './decode.js';
import { VOID_INDEX } from './classes.js';

export interface SampleOptions {
  count: number;
  size: number;
  /** Erosion of each class, in pixels, that makes the void band. */
  gap: number;
  seed: number;
}

export interface GeneratedImage {
  rgb: Uint8Array;
  /** 1 where the blob is (full truth), 0 elsewhere. */
  truth: Uint8Array;
  /** 1 = smoke, 0 = background, VOID_INDEX = gap. */
  labels: Uint8Array;
}

/** Smooth value noise in [0, 1]: a few octaves of bilinearly interpolated random grids. */
function valueNoise(rng: Rng, size: number, baseCells: number, octaves: number): Float32Array {
  const out = new Float32Array(size * size);
  let amp = 1;
  let total = 0;
  for (let o = 0; o < octaves; o++) {
    const cells = baseCells << o;
    const g = new Float32Array((cells + 1) * (cells + 1));
    for (let i = 0; i < g.length; i++) g[i] = rng.next();
    for (let y = 0; y < size; y++) {
      const fy = (y / size) * cells;
      const y0 = Math.floor(fy);
      const ty = fy - y0;
      const sy = ty * ty * (3 - 2 * ty);
      for (let x = 0; x < size; x++) {
        const fx = (x / size) * cells;
        const x0 = Math.floor(fx);
        const tx = fx - x0;
        const sx = tx * tx * (3 - 2 * tx);
        const a = g[y0 * (cells + 1) + x0];
        const b = g[y0 * (cells + 1) + x0 + 1];
        const c = g[(y0 + 1) * (cells + 1) + x0];
        const d = g[(y0 + 1) * (cells + 1) + x0 + 1];
        out[y * size + x] += amp * ((a * (1 - sx) + b * sx) * (1 - sy) + (c * (1 - sx) + d * sx) * sy);
      }
    }
    total += amp;
    amp *= 0.5;
  }
  for (let i = 0; i < out.length; i++) out[i] /= total;
  return out;
}

interface Blob {
  cx: number;
  cy: number;
  r0: number;
  harmonics: { k: number; a: number; phase: number }[];
  softness: number;
  opacity: number;
}

function blobRadius(b: Blob, theta: number): number {
  let r = 1;
  for (const h of b.harmonics) r += h.a * Math.cos(h.k * theta + h.phase);
  return b.r0 * r;
}

/** Generate one image with its truth and gap labels. */
export function generateImage(rng: Rng, size: number, gap: number): GeneratedImage {
  const n = size * size;
  const bgNoise = valueNoise(rng, size, 4, 4);
  const grain = valueNoise(rng, size, 16, 2);
  const smokeNoise = valueNoise(rng, size, 6, 3);
  const horizon = uniform(rng, 0.3, 0.7);
  const sky = [uniform(rng, 90, 170), uniform(rng, 120, 190), uniform(rng, 170, 240)];
  const ground = [uniform(rng, 40, 110), uniform(rng, 60, 130), uniform(rng, 30, 80)];
  const smoke = [uniform(rng, 170, 235), uniform(rng, 170, 235), uniform(rng, 170, 235)];
  const blobs: Blob[] = [];
  const nBlobs = 1 + Math.floor(rng.next() * 3);
  for (let i = 0; i < nBlobs; i++) {
    blobs.push({
      cx: uniform(rng, 0.15, 0.85) * size,
      cy: uniform(rng, 0.15, 0.85) * size,
      r0: uniform(rng, 0.08, 0.22) * size,
      harmonics: [2, 3, 5].map((k) => ({ k, a: Math.abs(normal(rng)) * 0.08, phase: uniform(rng, 0, 2 * Math.PI) })),
      softness: uniform(rng, 0.04, 0.09) * size,
      opacity: uniform(rng, 0.55, 0.9),
    });
  }
  const rgb = new Uint8Array(n * 3);
  const truth = new Uint8Array(n);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      // Background: sky above a wavy horizon, textured ground below.
      const hz = horizon * size + (bgNoise[i] - 0.5) * size * 0.25;
      const base = y < hz ? sky : ground;
      const tex = (bgNoise[i] - 0.5) * 70 + (grain[i] - 0.5) * 40;
      let alpha = 0;
      let inside = false;
      for (const b of blobs) {
        const dx = x - b.cx;
        const dy = y - b.cy;
        const d = Math.hypot(dx, dy);
        const r = blobRadius(b, Math.atan2(dy, dx));
        // Soft edge: opacity falls through half its peak exactly at the blob's radius.
        const a = b.opacity / (1 + Math.exp((d - r) / (b.softness * 0.35)));
        alpha = 1 - (1 - alpha) * (1 - a * (0.75 + 0.5 * smokeNoise[i]));
        if (d < r) inside = true;
      }
      alpha = Math.min(alpha, 1);
      truth[i] = inside ? 1 : 0;
      for (let c = 0; c < 3; c++) {
        const bg = base[c] + tex;
        const v = bg * (1 - alpha) + smoke[c] * alpha + normal(rng) * 4;
        rgb[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
      }
    }
  }
  const labels = makeGap(truth, size, size, gap);
  return { rgb, truth, labels };
}

/** Class description of the sample, in gapseg.json form. */
export const SAMPLE_CLASSES = {
  classes: { '0': 'background', '255': 'smoke' },
  void: [128],
};

/**
 * Write the sample data set: images/, labels/ (0/255 with 128 = void), truth/ (0/255),
 * train.txt / valid.txt / test.txt split lists, and gapseg.json.
 */
export async function writeSampleDataset(dir: string, opts: SampleOptions & { valid: number; test: number }): Promise<void> {
  for (const sub of ['images', 'labels', 'truth']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const rng = makeRng(opts.seed);
  const names: string[] = [];
  for (let i = 0; i < opts.count; i++) {
    const name = `blob_${String(i).padStart(4, '0')}`;
    const img = generateImage(rng, opts.size, opts.gap);
    const lab = new Uint8Array(img.labels.length);
    const tru = new Uint8Array(img.truth.length);
    for (let p = 0; p < lab.length; p++) {
      lab[p] = img.labels[p] === VOID_INDEX ? 128 : img.labels[p] ? 255 : 0;
      tru[p] = img.truth[p] ? 255 : 0;
    }
    await writeFileAtomic(path.join(dir, 'images', `${name}.png`), await encodePng(img.rgb, opts.size, opts.size, 3));
    await writeFileAtomic(path.join(dir, 'labels', `${name}.png`), await encodePng(lab, opts.size, opts.size, 1));
    await writeFileAtomic(path.join(dir, 'truth', `${name}.png`), await encodePng(tru, opts.size, opts.size, 1));
    names.push(name);
  }
  const nTest = opts.test;
  const nValid = opts.valid;
  const train = names.slice(0, names.length - nValid - nTest);
  const valid = names.slice(names.length - nValid - nTest, names.length - nTest);
  const test = names.slice(names.length - nTest);
  await writeFileAtomic(path.join(dir, 'train.txt'), train.join('\n') + '\n');
  await writeFileAtomic(path.join(dir, 'valid.txt'), valid.join('\n') + '\n');
  await writeFileAtomic(path.join(dir, 'test.txt'), test.join('\n') + '\n');
  await writeFileAtomic(path.join(dir, 'gapseg.json'), JSON.stringify(SAMPLE_CLASSES, null, 2) + '\n');
}
