/** Shared pieces of the prediction tests: tiny saved models, test images, .npy reading. */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { createUNet, DEFAULT_UNET, disposeUNet, type UNetConfig } from '../src/nets/unet/unet.js';
import { saveModel } from '../src/formats/modelFolder.js';
import { makeRng } from '../src/util/random.js';

/**
 * Save a tiny random U-Net (two classes: background 0, smoke 255) with batch-norm statistics
 * and affine terms away from their defaults, so that folding them into convolutions matters.
 */
export async function saveTinyModel(dir: string, opts: { depth?: number; width?: number; seed?: number; tile?: number; scale?: number } = {}): Promise<UNetConfig> {
  const cfg: UNetConfig = { ...DEFAULT_UNET, numClasses: 2, depth: opts.depth ?? 2, baseWidth: opts.width ?? 4 };
  const seed = opts.seed ?? 1;
  const net = createUNet(cfg, seed);
  const rng = makeRng(seed + 100);
  const perturb = (v: tf.Variable, lo: number, hi: number) => {
    const n = v.size;
    v.assign(tf.tensor(Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next()), v.shape));
  };
  for (const [name, v] of Object.entries(net.stats)) perturb(v, name.endsWith('variance') ? 0.5 : -0.2, name.endsWith('variance') ? 2 : 0.2);
  for (const [name, v] of Object.entries(net.params)) {
    if (name.endsWith('/gamma')) perturb(v, 0.7, 1.3);
    else if (name.endsWith('/beta') || name.endsWith('/bias')) perturb(v, -0.2, 0.2);
  }
  await saveModel(dir, net, {
    classes: { classes: [{ name: 'background', value: 0, color: [0, 0, 0] }, { name: 'smoke', value: 255, color: [230, 25, 75] }], voidValues: [128] },
    input: { scale: opts.scale ?? 1, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], tile: opts.tile ?? 256 },
    info: {},
  });
  disposeUNet(net);
  return cfg;
}

/** A seeded RGB test image: gradients, a bright disc and noise. */
export function testImage(width: number, height: number, seed: number): Uint8Array {
  const rng = makeRng(seed);
  const cx = rng.next() * width;
  const cy = rng.next() * height;
  const r = (0.15 + 0.2 * rng.next()) * Math.min(width, height);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const disc = (x - cx) ** 2 + (y - cy) ** 2 < r * r ? 100 : 0;
      for (let c = 0; c < 3; c++) {
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(40 + (120 * x) / width + 30 * c + disc + 40 * rng.next())));
      }
    }
  }
  return data;
}

/** Write a seeded PNG test image. */
export async function writeTestImage(file: string, width: number, height: number, seed: number): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(Buffer.from(testImage(width, height, seed)), { raw: { width, height, channels: 3 } }).png().toFile(file);
}

/** Read a float32 .npy file: its shape and values. */
export function readNpy(file: string): { shape: number[]; data: Float32Array } {
  const b = fs.readFileSync(file);
  if (b[0] !== 0x93 || b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not .npy`);
  const headerLen = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + headerLen);
  if (!header.includes("'descr': '<f4'") || !header.includes("'fortran_order': False")) throw new Error(`${file}: unexpected header ${header}`);
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const start = 10 + headerLen;
  const data = new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length));
  return { shape, data };
}

/** Grey values of a PNG (first channel). */
export async function readGrey(file: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const { data, info } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}
