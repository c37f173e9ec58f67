/** Shared pieces of the prediction tests: tiny saved models, test images, .npy reading. */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { createUNet, DEFAULT_UNET, disposeUNet, type UNetConfig } from '../src/nets/unet/unet.js';
import { saveModel } from '../src/formats/modelFolder.js';
import { makeRng } from '../src/util/random.js';
import { DTYPE, encodeOnnx, type OnnxModel, type OnnxNode } from '../src/formats/onnx/model.js';

/**
 * Save a tiny random U-Net (two classes: background 0, smoke 255) with batch-norm statistics
 * and affine terms away from their defaults, so that folding them into convolutions matters.
 */
export async function saveTinyModel(
  dir: string,
  opts: { depth?: number; width?: number; seed?: number; tile?: number; scale?: number } = {},
): Promise<UNetConfig> {
  const cfg: UNetConfig = { ...DEFAULT_UNET, numClasses: 2, depth: opts.depth ?? 2, baseWidth: opts.width ?? 4 };
  const seed = opts.seed ?? 1;
  const net = createUNet(cfg, seed);
  const rng = makeRng(seed + 100);
  const perturb = (v: tf.Variable, lo: number, hi: number) => {
    const n = v.size;
    v.assign(
      tf.tensor(
        Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next()),
        v.shape,
      ),
    );
  };
  for (const [name, v] of Object.entries(net.stats))
    perturb(v, name.endsWith('variance') ? 0.5 : -0.2, name.endsWith('variance') ? 2 : 0.2);
  for (const [name, v] of Object.entries(net.params)) {
    if (name.endsWith('/gamma')) perturb(v, 0.7, 1.3);
    else if (name.endsWith('/beta') || name.endsWith('/bias')) perturb(v, -0.2, 0.2);
  }
  await saveModel(dir, net, {
    classes: {
      classes: [
        { name: 'background', value: 0, color: [0, 0, 0] },
        { name: 'smoke', value: 255, color: [230, 25, 75] },
      ],
      voidValues: [128],
    },
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
  await sharp(Buffer.from(testImage(width, height, seed)), { raw: { width, height, channels: 3 } })
    .png()
    .toFile(file);
}

/** Read a float32 .npy file: its shape and values. */
export function readNpy(file: string): { shape: number[]; data: Float32Array } {
  const b = fs.readFileSync(file);
  if (b[0] !== 0x93 || b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not .npy`);
  const headerLen = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + headerLen);
  if (!header.includes("'descr': '<f4'") || !header.includes("'fortran_order': False"))
    throw new Error(`${file}: unexpected header ${header}`);
  const shape = /'shape': \(([^)]*)\)/
    .exec(header)![1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const start = 10 + headerLen;
  const data = new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length));
  return { shape, data };
}

/** Grey values of a PNG (first channel). */
export async function readGrey(file: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const { data, info } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

/**
 * A 3-class foreign segmentation model: a 1x1 convolution giving background = -red,
 * smoke = +red, and void = 10 (the largest logit everywhere, as a model trained with void
 * along every border might give). Optionally NHWC, with a softmax, with a fixed input size.
 */
export function foreignModel(
  opts: { nhwc?: boolean; softmax?: boolean; fixed?: [number, number]; classes?: number; nan?: boolean; pooled?: boolean } = {},
): Uint8Array {
  const k = opts.classes ?? 3;
  const weight = new Float32Array(k * 3);
  weight[0] = -1; // background from red
  weight[3] = 1; // smoke from red
  const bias = new Float32Array(k);
  bias[2] = 10; // void
  if (opts.nan) bias[0] = NaN; // a broken model: its first channel is not a number
  const nodes: OnnxNode[] = [];
  let x = 'input';
  if (opts.nhwc) {
    nodes.push({ op: 'Transpose', inputs: [x], outputs: ['x_nchw'], attrs: [{ name: 'perm', type: 'ints', value: [0, 3, 1, 2] }] });
    x = 'x_nchw';
  }
  nodes.push({ op: 'Conv', inputs: [x, 'w', 'b'], outputs: ['logits'], attrs: [{ name: 'kernel_shape', type: 'ints', value: [1, 1] }] });
  let y = 'logits';
  if (opts.pooled) {
    // One score per image and channel, as a classifier gives.
    nodes.push({ op: 'GlobalAveragePool', inputs: [y], outputs: ['pooled'], attrs: [] });
    y = 'pooled';
  }
  if (opts.softmax) {
    nodes.push({ op: 'Softmax', inputs: [y], outputs: ['probs'], attrs: [{ name: 'axis', type: 'int', value: 1 }] });
    y = 'probs';
  }
  if (opts.nhwc) {
    nodes.push({ op: 'Transpose', inputs: [y], outputs: ['y_nhwc'], attrs: [{ name: 'perm', type: 'ints', value: [0, 2, 3, 1] }] });
    y = 'y_nhwc';
  }
  nodes.push({ op: 'Identity', inputs: [y], outputs: ['output'] });
  const [n, h, w]: (number | string)[] = opts.fixed ? [1, opts.fixed[1], opts.fixed[0]] : ['N', 'H', 'W'];
  const model: OnnxModel = {
    graph: {
      name: 'foreign',
      nodes,
      initializers: [
        { name: 'w', dims: [k, 3, 1, 1], data: weight },
        { name: 'b', dims: [k], data: bias },
      ],
      inputs: [{ name: 'input', elemType: DTYPE.float, dims: opts.nhwc ? [n, h, w, 3] : [n, 3, h, w] }],
      outputs: [{ name: 'output', elemType: DTYPE.float, dims: opts.nhwc ? [n, h, w, k] : [n, k, h, w] }],
    },
    opset: 13,
    irVersion: 7,
    producer: 'test',
    producerVersion: '0',
    metadata: {},
  };
  return encodeOnnx(model);
}

/** A 40x30 image: dark red on the left half, bright red on the right. */
export async function halves(file: string): Promise<void> {
  const [w, h] = [40, 30];
  const d = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    d[i * 3] = i % w < w / 2 ? 30 : 220;
    d[i * 3 + 1] = 100;
    d[i * 3 + 2] = 90;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(d, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(file);
}
