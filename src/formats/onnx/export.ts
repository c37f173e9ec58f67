/**
 * Exporting a gapseg model to ONNX, checked: the file is written beside its target, run by
 * onnxruntime-node on a test image, compared with the TensorFlow.js forward pass, and only
 * then renamed into place. A model.onnx therefore always matches its weights.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, modelDirOf, type ModelMeta } from '../modelFolder.js';
import {
  describeNet,
  disposeNet,
  netForward,
  netKind,
  netMultiple,
  netReceptiveRadius,
  netValues,
  type AnyNet,
  type NetConfig,
} from '../../nets/index.js';
import type { UNetConfig } from '../../nets/unet/unet.js';
import type { MobileUNetConfig } from '../../nets/mobilenetV2/unet.js';
import { mobileUNetToOnnx } from './mobileUnetGraph.js';
import { encodeOnnx } from './model.js';
import { unetToOnnx } from './unetGraph.js';
import { makeRng } from '../../util/random.js';
import { makeDir, tempPath } from '../../util/atomic.js';
import { writeError } from '../../util/errors.js';
import { ONNX_FILE, META, fileSha256, type OnnxInputMeta } from './gapsegOnnx.js';
import { nhwcToNchw } from '../../util/layout.js';
import { openOnnxNet } from '../../engine/onnx/session.js';
import { requireOnnxRuntime } from '../../engine/onnx/runtime.js';

/** Largest difference allowed between ONNX Runtime and TensorFlow.js logits, relative to max(1, |logit|max). */
export const EXPORT_TOLERANCE = 1e-4;

export interface ExportResult {
  file: string;
  bytes: number;
  /** Largest absolute difference of logits on the test image. */
  maxDiff: number;
  /** Largest absolute logit on the test image. */
  maxLogit: number;
  /** The check's size: batch x height x width. */
  checkShape: [number, number, number];
}

/**
 * A deterministic test image batch at the network's scale, normalised like real input,
 * NHWC: smooth gradients, a few discs and noise, so every layer sees varied activations.
 */
export function testImageBatch(meta: ModelMeta, n: number, h: number, w: number, seed = 1): Float32Array {
  const rng = makeRng(seed);
  const x = new Float32Array(n * h * w * 3);
  const { mean, std } = meta.input;
  for (let b = 0; b < n; b++) {
    const discs = Array.from({ length: 3 }, () => [rng.next() * w, rng.next() * h, (0.1 + 0.2 * rng.next()) * Math.min(w, h)]);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const inDisc = discs.some(([cx, cy, r]) => (xx - cx) ** 2 + (y - cy) ** 2 < r * r);
        const rgb = [xx / w, y / h, inDisc ? 0.9 : 0.2].map((v) => Math.min(1, Math.max(0, v + (rng.next() - 0.5) * 0.1)));
        for (let c = 0; c < 3; c++) x[((b * h + y) * w + xx) * 3 + c] = (rgb[c] - mean[c]) / std[c];
      }
    }
  }
  return x;
}

/** The metadata_props of an exported gapseg model. */
export function exportMetadata(dir: string, meta: ModelMeta): Record<string, string> {
  const input: OnnxInputMeta = {
    layout: 'nchw',
    scores: 'logits',
    multiple: netMultiple(meta.net),
    radius: netReceptiveRadius(meta.net),
    ...meta.input,
  };
  return {
    [META.classes]: fs.readFileSync(path.join(dir, 'gapseg.json'), 'utf8'),
    [META.input]: JSON.stringify(input),
    [META.weights]: fileSha256(path.join(dir, 'weights.bin')),
  };
}

async function checkExport(file: string, net: AnyNet, meta: ModelMeta, threads: number): Promise<Omit<ExportResult, 'file' | 'bytes'>> {
  const m = netMultiple(meta.net);
  const [n, h, w] = [2, 4 * m, 5 * m];
  const x = testImageBatch(meta, n, h, w);
  const k = meta.net.numClasses;
  const refT = tf.tidy(() => tf.transpose(netForward(net, tf.tensor4d(x, [n, h, w, 3]), false), [0, 3, 1, 2]));
  const ref = (await refT.data()) as Float32Array;
  refT.dispose();
  const session = await openOnnxNet(file, threads, file, 1);
  try {
    const y = await session.run(nhwcToNchw(x, n, 3, h, w), [n, 3, h, w]);
    if (y.dims.join() !== [n, k, h, w].join()) throw new Error(`exported model gives shape [${y.dims}], expected [${n},${k},${h},${w}]`);
    let maxDiff = 0;
    let maxLogit = 0;
    for (let i = 0; i < ref.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(ref[i] - y.data[i]));
      maxLogit = Math.max(maxLogit, Math.abs(ref[i]));
    }
    return { maxDiff, maxLogit, checkShape: [n, h, w] };
  } finally {
    await session.close();
  }
}

/** The ONNX graph of a network. */
function onnxGraphOf(cfg: NetConfig, values: Map<string, Float32Array>, opts: Parameters<typeof unetToOnnx>[2]) {
  return netKind(cfg) === 'unet' ? unetToOnnx(cfg as UNetConfig, values, opts) : mobileUNetToOnnx(cfg as MobileUNetConfig, values, opts);
}

/** Export a run or model folder's model to ONNX (default: model.onnx in the model folder). */
export async function exportOnnx(p: string, opts: { out?: string; threads: number; version: string }): Promise<ExportResult> {
  const dir = modelDirOf(p);
  requireOnnxRuntime('gapseg export (which checks the file it writes)');
  const { net, meta } = loadModel(dir);
  try {
    const model = onnxGraphOf(meta.net, await netValues(net), {
      metadata: exportMetadata(dir, meta),
      docString: `gapseg ${describeNet(meta.net)}, classes: ${meta.classes.classes.map((c) => c.name).join(', ')}`,
      producerVersion: opts.version,
    });
    const bytes = encodeOnnx(model);
    const file = path.resolve(opts.out ?? path.join(dir, ONNX_FILE));
    await makeDir(path.dirname(file));
    const tmp = tempPath(file);
    try {
      await fs.promises.writeFile(tmp, bytes);
      const check = await checkExport(tmp, net, meta, opts.threads);
      if (!(check.maxDiff <= EXPORT_TOLERANCE * Math.max(1, check.maxLogit))) {
        throw new Error(
          `ONNX export check failed: logits differ by ${check.maxDiff} (largest logit ${check.maxLogit}); the file was not written`,
        );
      }
      const fh = await fs.promises.open(tmp, 'r+');
      await fh.sync();
      await fh.close();
      await fs.promises.rename(tmp, file);
      return { file, bytes: bytes.length, ...check };
    } catch (e) {
      throw writeError(file, e);
    } finally {
      await fs.promises.rm(tmp, { force: true });
    }
  } finally {
    disposeNet(net);
  }
}
